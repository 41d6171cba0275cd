# CMake toolchain file: cross-compile ferry for 64-bit ARM Linux (Debian arm64)
# with gcc-aarch64-linux-gnu; tests run under qemu-aarch64. See docs/arm.md.
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cross/aarch64-linux-gnu.cmake \
#         -DFERRY_SYSROOT=/var/cache/ferry-cross/arm64/sysroot
set(FERRY_CROSS_TRIPLET aarch64-linux-gnu)
set(FERRY_CROSS_CPU aarch64)
set(FERRY_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-common.cmake)
