# A hand-written CMake package configuration file for libgreet (config mode).
# Install it as <prefix>/lib/cmake/greet/greetConfig.cmake; on Windows conda-forge
# packages use %PREFIX%\Library\lib\cmake\<name> or %PREFIX%\Library\share\cmake\<name>.
# Everything is relative to this file's folder, so the prefix can be moved.
get_filename_component(_greet_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET greet::greet)
  add_library(greet::greet SHARED IMPORTED)
  set_target_properties(greet::greet PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_greet_prefix}/include")
  if(WIN32)
    # A DLL target needs two files: the import library for the linker and the DLL.
    set_target_properties(greet::greet PROPERTIES
      IMPORTED_IMPLIB "${_greet_prefix}/lib/greet.lib"
      IMPORTED_LOCATION "${_greet_prefix}/bin/greet.dll")
  else()
    set_target_properties(greet::greet PROPERTIES
      IMPORTED_LOCATION "${_greet_prefix}/lib/libgreet.so")
  endif()
endif()
message(STATUS "greetConfig.cmake: using the prefix ${_greet_prefix}")
