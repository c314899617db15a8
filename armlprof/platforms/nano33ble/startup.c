/* nRF52840 early init, before static constructors: start the 64 MHz crystal oscillator and enable the
 * NVMC instruction cache, as the board's bootloader and mbed startup leave them (nrfx mdk/nrf52840.h). */
#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define CLOCK_TASKS_HFCLKSTART REG32(0x40000000u)
#define CLOCK_EVENTS_HFCLKSTARTED REG32(0x40000100u)
#define NVMC_ICACHECNF REG32(0x4001E540u)

void board_early_init(void) {
  CLOCK_EVENTS_HFCLKSTARTED = 0;
  CLOCK_TASKS_HFCLKSTART = 1;
  while (CLOCK_EVENTS_HFCLKSTARTED == 0) {
  }
  NVMC_ICACHECNF = 1; /* CACHEEN */
}
