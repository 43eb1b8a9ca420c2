# Small helpers in the spirit of Redpanda's v_cc_library: one folder, one target,
# an earshot:: alias, include paths relative to the repository root.

set(EARSHOT_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)

# earshot_cc_library(NAME <name> SRCS ... DEPS ...)
function(earshot_cc_library)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  set(target earshot_${A_NAME})
  if(A_SRCS)
    add_library(${target} STATIC ${A_SRCS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} PUBLIC ${A_DEPS})
    target_compile_options(${target} PRIVATE ${EARSHOT_WARNINGS})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} INTERFACE ${A_DEPS})
  endif()
  add_library(earshot::${A_NAME} ALIAS ${target})
endfunction()

# earshot_cc_test(NAME <name> SRCS ... DEPS ... LABELS unit|integration [TIMEOUT s] [COST s])
# REAL_KAFKA: also registered as <name>.real_kafka (label real_kafka), which runs the same
# binary on a real Apache Kafka (EARSHOT_TEST_KAFKA=real, tests/integration/test_kafka.h).
# ONLY_REAL_KAFKA: registered as <name>.real_kafka alone (the binary still runs on the embedded
# broker when started by hand).
# COST: the test's usual seconds on two cores. ctest starts the costliest tests first; on a fresh
# machine it has no timings of its own, and a long test started last would run alone at the end.
function(earshot_cc_test)
  cmake_parse_arguments(A "REAL_KAFKA;ONLY_REAL_KAFKA" "NAME;TIMEOUT;COST" "SRCS;DEPS;LABELS"
    ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${A_NAME} PRIVATE ${EARSHOT_WARNINGS})
  target_compile_definitions(${A_NAME} PRIVATE
    EARSHOT_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures"
    EARSHOT_KAFKA_SCRIPT="${PROJECT_SOURCE_DIR}/scripts/kafka.sh")
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  if(NOT A_COST)
    set(A_COST 0)
  endif()
  if(NOT A_ONLY_REAL_KAFKA)
    add_test(NAME ${A_NAME} COMMAND ${A_NAME})
    set_tests_properties(${A_NAME} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
      COST ${A_COST})
  endif()
  if(A_REAL_KAFKA OR A_ONLY_REAL_KAFKA)
    add_test(NAME ${A_NAME}.real_kafka COMMAND ${A_NAME})
    set_tests_properties(${A_NAME}.real_kafka PROPERTIES LABELS "${A_LABELS};real_kafka"
      TIMEOUT ${A_TIMEOUT} COST ${A_COST} ENVIRONMENT EARSHOT_TEST_KAFKA=real)
  endif()
endfunction()
