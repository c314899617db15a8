/* The few Cortex-M4 system registers the core touches (ARMv7-M ARM, B3.2). */
#ifndef ARMLPROF_CORTEX_M_H
#define ARMLPROF_CORTEX_M_H
#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

#define SCB_VTOR REG32(0xE000ED08u)
#define SCB_CPACR REG32(0xE000ED88u)
#define SCB_CFSR REG32(0xE000ED28u)
#define SCB_HFSR REG32(0xE000ED2Cu)
#define SCB_MMFAR REG32(0xE000ED34u)
#define SCB_BFAR REG32(0xE000ED38u)
#define DHCSR REG32(0xE000EDF0u)
#define DEMCR REG32(0xE000EDFCu)
#define DWT_CTRL REG32(0xE0001000u)
#define DWT_CYCCNT REG32(0xE0001004u)

#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL_CYCCNTENA (1u << 0)
#define DHCSR_C_DEBUGEN (1u << 0)

#endif
