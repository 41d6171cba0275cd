# packaging: install rules and CPack settings for the Debian packages
# ferry-agent and ferry-collector (`cpack -G DEB` in the build directory).
# Each package holds its binary, systemd unit, sysusers.d and tmpfiles.d
# snippets, its config file and environment file as conffiles, the operator
# documentation and maintainer scripts. The Debian architecture comes from the
# target compiler, so a cross build (cross/ toolchain files) packages for its
# target from the same rules. Dependencies: dpkg-shlibdeps on a native build,
# an explicit list when cross compiling (FERRY_DEB_SHLIBDEPS overrides).

# --- Debian architecture of the target -----------------------------------------
execute_process(COMMAND ${CMAKE_C_COMPILER} -dumpmachine OUTPUT_VARIABLE FERRY_TARGET_TRIPLET
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(FERRY_TARGET_TRIPLET MATCHES "^x86_64-.*-gnux32$")
  set(FERRY_DEB_ARCH x32)
elseif(FERRY_TARGET_TRIPLET MATCHES "^x86_64-")
  set(FERRY_DEB_ARCH amd64)
elseif(FERRY_TARGET_TRIPLET MATCHES "^(aarch64|arm64)-")
  set(FERRY_DEB_ARCH arm64)
elseif(FERRY_TARGET_TRIPLET MATCHES "^arm.*-gnueabihf$")
  set(FERRY_DEB_ARCH armhf)
elseif(FERRY_TARGET_TRIPLET MATCHES "^arm.*-gnueabi$")
  set(FERRY_DEB_ARCH armel)
elseif(FERRY_TARGET_TRIPLET MATCHES "^i[3-6]86-")
  set(FERRY_DEB_ARCH i386)
elseif(FERRY_TARGET_TRIPLET MATCHES "^riscv64-")
  set(FERRY_DEB_ARCH riscv64)
else()
  find_program(FERRY_DPKG_ARCHITECTURE dpkg-architecture)
  if(FERRY_DPKG_ARCHITECTURE AND FERRY_TARGET_TRIPLET)
    execute_process(COMMAND ${FERRY_DPKG_ARCHITECTURE} -t ${FERRY_TARGET_TRIPLET} -qDEB_HOST_ARCH
      OUTPUT_VARIABLE FERRY_DEB_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()
  if(NOT FERRY_DEB_ARCH)
    message(WARNING "packaging: no Debian architecture for target '${FERRY_TARGET_TRIPLET}'")
    set(FERRY_DEB_ARCH unknown)
  endif()
endif()

# --- install rules, one component per package -------------------------------------
set(FERRY_PKG_AGENT ferry-agent)
set(FERRY_PKG_COLLECTOR ferry-collector)
install(TARGETS ferry-agent RUNTIME DESTINATION bin COMPONENT agent)
install(TARGETS ferry-collector RUNTIME DESTINATION bin COMPONENT collector)

file(GLOB FERRY_PKG_DOCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md ${CMAKE_SOURCE_DIR}/docs/openapi.json)
# the MQTT source's ready-made mappings (copy one to /etc/ferry and adapt it;
# docs/integrations.md, installed with the other documents, is the guide)
install(FILES ${CMAKE_SOURCE_DIR}/config/mappings/deepstream-full.jsonc
  ${CMAKE_SOURCE_DIR}/config/mappings/deepstream-minimal.jsonc ${CMAKE_SOURCE_DIR}/config/mappings/frigate.jsonc
  DESTINATION share/ferry-agent/mappings COMPONENT agent)

foreach(comp agent collector)
  set(pkg ferry-${comp})
  install(FILES ${CMAKE_SOURCE_DIR}/systemd/${pkg}.service
    DESTINATION /usr/lib/systemd/system COMPONENT ${comp})
  install(FILES ${CMAKE_SOURCE_DIR}/systemd/${pkg}.sysusers.conf
    DESTINATION /usr/lib/sysusers.d RENAME ${pkg}.conf COMPONENT ${comp})
  install(FILES ${CMAKE_SOURCE_DIR}/systemd/${pkg}.tmpfiles.conf
    DESTINATION /usr/lib/tmpfiles.d RENAME ${pkg}.conf COMPONENT ${comp})
  install(FILES ${CMAKE_SOURCE_DIR}/config/${comp}.jsonc
    DESTINATION /etc/ferry PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ COMPONENT ${comp})
  install(FILES ${CMAKE_SOURCE_DIR}/systemd/${comp}.env
    DESTINATION /etc/ferry PERMISSIONS OWNER_READ OWNER_WRITE COMPONENT ${comp})
  # every document the shipped files point at (operations.md links spec.md, error
  # messages and help name security.md, metrics.md, ...): the whole docs/ set
  install(FILES ${FERRY_PKG_DOCS} ${CMAKE_SOURCE_DIR}/README.md
    DESTINATION share/doc/${pkg} COMPONENT ${comp})

  # maintainer scripts and the conffiles list
  set(dir ${CMAKE_BINARY_DIR}/deb/${comp})
  set(PKG ${pkg})
  set(SHORT ${comp})
  foreach(script postinst prerm postrm)
    configure_file(${CMAKE_SOURCE_DIR}/cmake/deb/${script}.in ${dir}/${script} @ONLY
      FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
      WORLD_READ WORLD_EXECUTE)
  endforeach()
  file(WRITE ${dir}/conffiles "/etc/ferry/${comp}.jsonc\n/etc/ferry/${comp}.env\n")
endforeach()

# --- CPack ---------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ferry)
set(CPACK_PACKAGE_VENDOR "ferry")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "ferry maintainers <ferry@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL agent collector)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${FERRY_DEB_ARCH})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/ferry")
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME ${FERRY_PKG_AGENT})
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_NAME ${FERRY_PKG_COLLECTOR})
set(CPACK_COMPONENT_AGENT_DESCRIPTION
  "store-and-forward of inference events to a ferry collector\nferry-agent runs beside a CCTV inference box: it accepts detection events on a\nlocal HTTP API, keeps them in a durable SQLite journal and uploads them to a\nferry-collector, through network outages and reboots, without loss or\nduplicates.")
set(CPACK_COMPONENT_COLLECTOR_DESCRIPTION
  "central service storing ferry agents' events exactly once\nferry-collector authenticates ferry agents, stores every event once per\n(agent, event id) in SQLite, tracks each agent's delivery and serves\nmetrics.")

if(NOT DEFINED FERRY_DEB_SHLIBDEPS)
  find_program(FERRY_DPKG_SHLIBDEPS dpkg-shlibdeps)
  if(FERRY_DPKG_SHLIBDEPS AND NOT CMAKE_CROSSCOMPILING)
    set(FERRY_DEB_SHLIBDEPS ON)
  else()
    set(FERRY_DEB_SHLIBDEPS OFF)
  endif()
endif()
set(FERRY_DEB_SHLIBDEPS ${FERRY_DEB_SHLIBDEPS} CACHE BOOL
  "Debian package dependencies from dpkg-shlibdeps (else the explicit lists)")
set(FERRY_DEB_DEPENDS_COMMON
  "libc6 (>= 2.34), libuv1 (>= 1.44), libcurl3-gnutls (>= 7.74), libsqlite3-0 (>= 3.34), libcjson1 (>= 1.7.14), libmicrohttpd12 (>= 0.9.72), zlib1g (>= 1:1.2.11), libzstd1 (>= 1.4.8)")
if(SYSTEMD_FOUND)
  string(APPEND FERRY_DEB_DEPENDS_COMMON ", libsystemd0")
endif()
if(FERRY_DEB_SHLIBDEPS)
  set(CPACK_DEBIAN_AGENT_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_COLLECTOR_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "${FERRY_DEB_DEPENDS_COMMON}, libmosquitto1 (>= 2.0)")
  set(CPACK_DEBIAN_COLLECTOR_PACKAGE_DEPENDS "${FERRY_DEB_DEPENDS_COMMON}, libnettle8, libgnutls30 (>= 3.7.0), libpq5 (>= 15)")
endif()
# systemd-sysusers / systemd-tmpfiles come with systemd; adduser is the fallback
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_RECOMMENDS "systemd, sqlite3")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
  "${CMAKE_BINARY_DIR}/deb/agent/postinst;${CMAKE_BINARY_DIR}/deb/agent/prerm;${CMAKE_BINARY_DIR}/deb/agent/postrm;${CMAKE_BINARY_DIR}/deb/agent/conffiles")
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_CONTROL_EXTRA
  "${CMAKE_BINARY_DIR}/deb/collector/postinst;${CMAKE_BINARY_DIR}/deb/collector/prerm;${CMAKE_BINARY_DIR}/deb/collector/postrm;${CMAKE_BINARY_DIR}/deb/collector/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON) # a small box gets small binaries; debug builds keep theirs in the tree
include(CPack)
