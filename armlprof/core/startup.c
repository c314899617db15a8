/* Cortex-M reset and exception entry, shared by every board. The board's own startup.c
 * (platforms/<board>/startup.c) provides board_early_init(): clocks, caches. */
#include <stdint.h>

#include "Arduino.h"
#include "cortex_m.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[], __stack_top[];
extern void (*__preinit_array_start[])(void), (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void), (*__init_array_end[])(void);

int main(void);
void armlprof_dwt_init(void);
void board_early_init(void);
void Reset_Handler(void);
void HardFault_Handler(void);
void armlprof_fault_report(const uint32_t *frame, uint32_t exc_return);
static void Default_Handler(void);

#define WEAK_ALIAS __attribute__((weak, alias("Default_Handler")))
void NMI_Handler(void) WEAK_ALIAS;
void MemManage_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void SVC_Handler(void) WEAK_ALIAS;
void DebugMon_Handler(void) WEAK_ALIAS;
void PendSV_Handler(void) WEAK_ALIAS;
void SysTick_Handler(void) WEAK_ALIAS;

/* The 16 system vectors; the core uses no peripheral interrupts. */
__attribute__((section(".isr_vector"), used)) void (*const __isr_vector[16])(void) = {
    (void (*)(void))__stack_top, Reset_Handler, NMI_Handler, HardFault_Handler, MemManage_Handler,
    BusFault_Handler, UsageFault_Handler, 0, 0, 0, 0, SVC_Handler, DebugMon_Handler, 0, PendSV_Handler,
    SysTick_Handler,
};

void Reset_Handler(void) {
  for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (uint32_t *dst = __bss_start; dst < __bss_end;) *dst++ = 0;
  SCB_CPACR |= 0xFu << 20; /* CP10, CP11 full access: the FPU */
  __asm__ volatile("dsb\n isb" ::: "memory");
  SCB_VTOR = (uint32_t)__isr_vector;
  board_early_init();
  armlprof_dwt_init();
  for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
  for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f) (*f)();
  main();
  for (;;) {
  }
}

/* Passes the stacked exception frame to armlprof_fault_report (fault.c). */
__attribute__((naked)) void HardFault_Handler(void) {
  __asm__ volatile(
      "tst lr, #4\n"
      "ite eq\n"
      "mrseq r0, msp\n"
      "mrsne r0, psp\n"
      "mov r1, lr\n"
      "b armlprof_fault_report\n");
}

static void Default_Handler(void) {
  for (;;) {
  }
}
