# run_scenario.cmake - one simulation test: run sluice-sim on SCN and compare
# what it prints with EXPECTED.  The compared text is standard output, then,
# when the exit status is not 0, a line "exit status N" and standard error
# (so bad scenarios have expected output too).  With SLUICE_SIM_UPDATE=1 in
# the environment the output is written to EXPECTED instead.
get_filename_component(scn_name ${SCN} NAME)
execute_process(COMMAND ${SIM} ${scn_name}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  string(APPEND out "exit status ${rc}\n${err}")
elseif(NOT err STREQUAL "")
  message(FATAL_ERROR "${scn_name}: exit status 0 but standard error says:\n${err}")
endif()

if("$ENV{SLUICE_SIM_UPDATE}" STREQUAL "1")
  file(WRITE ${EXPECTED} "${out}")
  message(STATUS "${scn_name}: wrote ${EXPECTED}")
  return()
endif()

if(NOT EXISTS ${EXPECTED})
  file(WRITE ${ACTUAL} "${out}")
  message(FATAL_ERROR "${EXPECTED} is missing; this run's output is in ${ACTUAL}"
    " (SLUICE_SIM_UPDATE=1 writes it)")
endif()
file(READ ${EXPECTED} want)
if(NOT out STREQUAL want)
  file(WRITE ${ACTUAL} "${out}")
  execute_process(COMMAND diff -u ${EXPECTED} ${ACTUAL})
  message(FATAL_ERROR "${scn_name}: output differs from ${EXPECTED} (above; this run's"
    " output is in ${ACTUAL})")
endif()
