/* nRF52840 legacy UART (UARTE0 with ENABLE = 4), polled (nrfx mdk/nrf52840.h register offsets). */
#include "Arduino.h"
#include "cortex_m.h"

#define UART(off) REG32(ARMLPROF_CONSOLE_BASE + (off))
#define TASKS_STARTRX 0x000
#define TASKS_STARTTX 0x008
#define EVENTS_RXDRDY 0x108
#define EVENTS_TXDRDY 0x11C
#define ENABLE 0x500
#define RXD 0x518
#define TXD 0x51C
#define BAUDRATE 0x524
#define ENABLE_UART 4u

static int console_ready;

void armlprof_console_init(uint32_t baud) {
  if (console_ready) return;
  /* BAUDRATE = baud * 2^32 / 16 MHz rounded to 4 KiB steps (the product spec table differs by one step at some rates). */
  uint32_t reg = (uint32_t)(((uint64_t)baud << 32) / 16000000u + 0x800u) & 0xFFFFF000u;
  UART(BAUDRATE) = reg;
  UART(ENABLE) = ENABLE_UART;
  UART(EVENTS_TXDRDY) = 0;
  UART(EVENTS_RXDRDY) = 0;
  UART(TASKS_STARTTX) = 1;
  UART(TASKS_STARTRX) = 1;
  console_ready = 1;
}

void armlprof_console_putc(char c) {
  if (!console_ready) armlprof_console_init(115200);
  UART(TXD) = (uint8_t)c;
  while (UART(EVENTS_TXDRDY) == 0) {
  }
  UART(EVENTS_TXDRDY) = 0;
}

int armlprof_console_getc(void) {
  if (!console_ready) armlprof_console_init(115200);
  if (UART(EVENTS_RXDRDY) == 0) return -1;
  UART(EVENTS_RXDRDY) = 0;
  return (int)(UART(RXD) & 0xFFu);
}
