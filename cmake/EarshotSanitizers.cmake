# Sanitizer and fuzzing builds, chosen by cache variables (the presets asan, tsan set them):
#   EARSHOT_SANITIZE=address  AddressSanitizer with UndefinedBehaviorSanitizer
#   EARSHOT_SANITIZE=thread   ThreadSanitizer
#   EARSHOT_FUZZ=ON           libFuzzer targets under tests/fuzz (clang only); every library is
#                             built with coverage instrumentation (-fsanitize=fuzzer-no-link) so
#                             the fuzzers see the code they drive.
# Debian's libraries (gRPC, librdkafka, RocksDB) are not instrumented: ASan still catches our
# misuse of their memory, TSan sees only our side of a race (tests/sanitizers/tsan.supp lists
# what it cannot see through).
set(EARSHOT_SANITIZE "" CACHE STRING "address (ASan+UBSan), thread (TSan) or empty")
option(EARSHOT_FUZZ "Build the libFuzzer targets (clang)" OFF)

set(_flags "")
if(EARSHOT_SANITIZE STREQUAL "address")
  # UBSan's vptr check needs RTTI everywhere and reports through uninstrumented libraries'
  # objects; the rest of its checks stay, and any report stops the test.
  list(APPEND _flags -fsanitize=address,undefined -fno-sanitize=vptr
    -fno-sanitize-recover=undefined)
elseif(EARSHOT_SANITIZE STREQUAL "thread")
  list(APPEND _flags -fsanitize=thread)
elseif(NOT EARSHOT_SANITIZE STREQUAL "")
  message(FATAL_ERROR "EARSHOT_SANITIZE must be address, thread or empty, not ${EARSHOT_SANITIZE}")
endif()
if(EARSHOT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "EARSHOT_FUZZ needs clang (libFuzzer): use the preset asan")
  endif()
  list(APPEND _flags -fsanitize=fuzzer-no-link)
endif()
if(_flags)
  # Frame pointers for whole stacks in reports; line tables only keep compile and link times
  # down (full debug info doubled the build) while reports still name file and line.
  list(APPEND _flags -fno-omit-frame-pointer)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    list(APPEND _flags -gline-tables-only)
  else()
    list(APPEND _flags -g1)
  endif()
  add_compile_options(${_flags})
  add_link_options(${_flags})
  add_compile_definitions(EARSHOT_SANITIZED=1)
endif()

if(EARSHOT_SANITIZE STREQUAL "thread")
  # Debian's Abseil and librdkafka are not instrumented: tests/sanitizers/tsan_shims.cc tells
  # TSan what their locks and threads do, in every target defined after this point.
  find_package(absl REQUIRED)
  add_library(earshot_tsan_shims OBJECT ${PROJECT_SOURCE_DIR}/tests/sanitizers/tsan_shims.cc)
  target_link_libraries(earshot_tsan_shims PUBLIC absl::synchronization ${CMAKE_DL_LIBS})
  link_libraries(earshot_tsan_shims)
endif()
