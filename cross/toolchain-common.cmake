# Shared body of the ferry cross toolchain files (aarch64-linux-gnu.cmake,
# arm-linux-gnueabihf.cmake), which set FERRY_CROSS_TRIPLET, FERRY_CROSS_CPU
# and FERRY_CROSS_QEMU and include this file.
#
# Libraries come from a sysroot (FERRY_SYSROOT, as a -D cache variable or in
# the environment; cross/make-sysroot.sh builds one from Debian packages) or,
# without one, from Debian multiarch (libfoo-dev:arm64 installed on the host).
# CMAKE_CROSSCOMPILING_EMULATOR makes CTest run target programs under
# qemu-user; tests/CMakeLists.txt hands the same command to the integration
# tests as FERRY_EMULATOR.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${FERRY_CROSS_CPU})
set(CMAKE_C_COMPILER ${FERRY_CROSS_TRIPLET}-gcc)

# try_compile projects re-read this file without the cache: pass the sysroot
# on through the environment.
if(FERRY_SYSROOT)
  set(ENV{FERRY_SYSROOT} "${FERRY_SYSROOT}")
elseif(DEFINED ENV{FERRY_SYSROOT})
  set(FERRY_SYSROOT "$ENV{FERRY_SYSROOT}")
endif()
set(FERRY_SYSROOT "${FERRY_SYSROOT}" CACHE PATH
  "Target sysroot for cross builds (empty: use Debian multiarch packages)")

if(FERRY_SYSROOT)
  if(NOT EXISTS "${FERRY_SYSROOT}/usr/include/stdio.h")
    message(FATAL_ERROR "FERRY_SYSROOT=${FERRY_SYSROOT} is not a target sysroot "
      "(no usr/include/stdio.h); make one with cross/make-sysroot.sh")
  endif()
  set(CMAKE_SYSROOT "${FERRY_SYSROOT}")
  set(CMAKE_FIND_ROOT_PATH "${FERRY_SYSROOT}")
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "${FERRY_SYSROOT}")
  set(ENV{PKG_CONFIG_LIBDIR}
    "${FERRY_SYSROOT}/usr/lib/${FERRY_CROSS_TRIPLET}/pkgconfig:${FERRY_SYSROOT}/usr/share/pkgconfig")
  set(_ferry_qemu_prefix "${FERRY_SYSROOT}")
else()
  # multiarch: the target's .pc files live in /usr/lib/<triplet>/pkgconfig
  set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${FERRY_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
  unset(ENV{PKG_CONFIG_SYSROOT_DIR})
  # the loader and libc of the cross toolchain; qemu falls back to / for the rest
  set(_ferry_qemu_prefix "/usr/${FERRY_CROSS_TRIPLET}")
endif()
set(ENV{PKG_CONFIG_PATH} "")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# qemu-user runs the target's unit tests; -L points it at the target loader
# and libraries. Override with -DCMAKE_CROSSCOMPILING_EMULATOR=... (e.g. empty
# when binfmt_misc runs foreign binaries directly).
find_program(FERRY_QEMU NAMES ${FERRY_CROSS_QEMU} ${FERRY_CROSS_QEMU}-static)
if(FERRY_QEMU AND NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${FERRY_QEMU};-L;${_ferry_qemu_prefix}")
endif()
