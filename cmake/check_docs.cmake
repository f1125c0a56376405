# Fails when DOC differs from `ICOTES docs` (regenerate with `make docs`).
execute_process(COMMAND ${ICOTES} docs OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "icotes docs failed (${rc})")
endif()
file(READ ${DOC} committed)
if(NOT generated STREQUAL committed)
  message(FATAL_ERROR "${DOC} is stale: run `make docs` and commit it")
endif()
