# CMake toolchain file: cross-compile ferry for 32-bit ARM Linux, hard float
# (Debian armhf: ARMv7, Thumb-2, VFPv3-D16) with gcc-arm-linux-gnueabihf;
# tests run under qemu-arm. See docs/arm.md.
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cross/arm-linux-gnueabihf.cmake \
#         -DFERRY_SYSROOT=/var/cache/ferry-cross/armhf/sysroot
set(FERRY_CROSS_TRIPLET arm-linux-gnueabihf)
set(FERRY_CROSS_CPU armv7l)
set(FERRY_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-common.cmake)
