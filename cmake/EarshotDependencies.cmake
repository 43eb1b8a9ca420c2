# Every third-party dependency is looked up here, once, from Debian's packages.
# Targets are used by name; nothing adds global include directories.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(simdjson CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(RocksDB CONFIG REQUIRED)
find_package(GTest CONFIG REQUIRED)
find_package(benchmark CONFIG REQUIRED)

pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++ rdkafka)
add_library(earshot_rdkafka INTERFACE)
target_link_libraries(earshot_rdkafka INTERFACE PkgConfig::RDKAFKA)
add_library(earshot::rdkafka ALIAS earshot_rdkafka)

# tcmalloc (gperftools' minimal build): the allocator of the programs that run services. With
# glibc's malloc, allocation took 15% of the gateway's I/O thread and its arena locks made that
# thread wait for librdkafka's; tcmalloc's per-thread caches gave the gateway 40% more
# requests/s (bench/README.md, Gateway). Linked to executables only; libraries do not pick an
# allocator.
pkg_check_modules(TCMALLOC REQUIRED IMPORTED_TARGET libtcmalloc_minimal)
add_library(earshot_malloc INTERFACE)
target_link_libraries(earshot_malloc INTERFACE PkgConfig::TCMALLOC)
add_library(earshot::malloc ALIAS earshot_malloc)

pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
add_library(earshot_re2 INTERFACE)
target_link_libraries(earshot_re2 INTERFACE PkgConfig::RE2)
add_library(earshot::re2 ALIAS earshot_re2)

# yaml-cpp 0.7's config names its target "yaml-cpp" without a namespace.
if(TARGET yaml-cpp AND NOT TARGET yaml-cpp::yaml-cpp)
  add_library(yaml-cpp::yaml-cpp ALIAS yaml-cpp)
endif()

set(EARSHOT_GRPC_CPP_PLUGIN $<TARGET_FILE:gRPC::grpc_cpp_plugin>)
