# collector_assets: the build step that embeds the dashboard
# (collector/dashboard/: index.html is served at /, every other file at
# /assets/<name>) and docs/openapi.json (at /openapi.json) into
# ferry_collector_lib, regenerated whenever one of those files changes.
file(GLOB FERRY_DASHBOARD_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/collector/dashboard/*)
set(FERRY_ASSET_MAP "/openapi.json=docs/openapi.json")
set(FERRY_ASSET_DEPS ${CMAKE_SOURCE_DIR}/docs/openapi.json)
foreach(f ${FERRY_DASHBOARD_FILES})
  get_filename_component(name ${f} NAME)
  if(name STREQUAL "index.html")
    list(APPEND FERRY_ASSET_MAP "/=collector/dashboard/${name}")
  else()
    list(APPEND FERRY_ASSET_MAP "/assets/${name}=collector/dashboard/${name}")
  endif()
  list(APPEND FERRY_ASSET_DEPS ${f})
endforeach()
string(REPLACE ";" "|" FERRY_ASSET_ARG "${FERRY_ASSET_MAP}")
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/generated/collector_assets.c
  COMMAND ${CMAKE_COMMAND} -DOUT=${CMAKE_BINARY_DIR}/generated/collector_assets.c
          -DSRC_DIR=${CMAKE_SOURCE_DIR} "-DFILES=${FERRY_ASSET_ARG}"
          -P ${CMAKE_SOURCE_DIR}/cmake/embed_assets.cmake
  DEPENDS ${FERRY_ASSET_DEPS} ${CMAKE_SOURCE_DIR}/cmake/embed_assets.cmake
  COMMENT "Embedding the dashboard and openapi.json"
  VERBATIM)
target_sources(ferry_collector_lib PRIVATE ${CMAKE_BINARY_DIR}/generated/collector_assets.c)
