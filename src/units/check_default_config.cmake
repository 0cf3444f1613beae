# cmake -DXAP=<binary> -DCONFIG=<config.json> -DEMPTY=<scratch file> -P check_default_config.cmake
# The shipped config.json must be valid and must say exactly what the built-in defaults say,
# so that editing it starts from the real defaults.
file(WRITE ${EMPTY} "{}\n")
foreach(which CONFIG EMPTY)
  execute_process(COMMAND ${XAP} check-config --config ${${which}}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "check-config --config ${${which}} exited ${rc}:\n${out}${err}")
  endif()
  # The first line names the file; the second is the effective settings.
  # (string(REGEX REPLACE) with "^" would strip every line, not just the first.)
  string(FIND "${out}" "\n" eol)
  math(EXPR eol "${eol} + 1")
  string(SUBSTRING "${out}" ${eol} -1 settings)
  string(STRIP "${settings}" settings_${which})
endforeach()
if(NOT settings_CONFIG STREQUAL settings_EMPTY)
  message(FATAL_ERROR "${CONFIG} differs from the built-in defaults:\n"
    "  shipped:  ${settings_CONFIG}\n  defaults: ${settings_EMPTY}")
endif()
message(STATUS "${CONFIG}: ${settings_CONFIG}")
