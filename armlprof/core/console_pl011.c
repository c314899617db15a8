/* PL011-compatible UART (CXD5602 UART1: NuttX hardware/cxd56_uart.h), polled. */
#include "Arduino.h"
#include "cortex_m.h"

#define UART(off) REG32(ARMLPROF_CONSOLE_BASE + (off))
#define DR 0x000
#define FR 0x018
#define IBRD 0x024
#define FBRD 0x028
#define LCR_H 0x02C
#define CR 0x030
#define IMSC 0x038
#define ICR 0x044
#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)
#define CR_UARTEN (1u << 0)
#define CR_TXE (1u << 8)
#define CR_RXE (1u << 9)
#define LCR_H_WLEN8_FEN 0x70u
#define UART_CLOCK_HZ 48750000u /* assumption: CXD5602 UART1 reference clock; only sets the divisor */

static int console_ready;

void armlprof_console_init(uint32_t baud) {
  if (console_ready) return;
  UART(CR) = 0;
  uint32_t div64 = (uint32_t)(((uint64_t)UART_CLOCK_HZ * 4u + baud / 2u) / baud); /* 64 x clock / (16 x baud) */
  UART(IBRD) = div64 >> 6;
  UART(FBRD) = div64 & 0x3Fu;
  UART(LCR_H) = LCR_H_WLEN8_FEN;
  UART(IMSC) = 0;
  UART(ICR) = 0x7FFu;
  UART(CR) = CR_UARTEN | CR_TXE | CR_RXE;
  console_ready = 1;
}

void armlprof_console_putc(char c) {
  if (!console_ready) armlprof_console_init(115200);
  while (UART(FR) & FR_TXFF) {
  }
  UART(DR) = (uint8_t)c;
}

int armlprof_console_getc(void) {
  if (!console_ready) armlprof_console_init(115200);
  if (UART(FR) & FR_RXFE) return -1;
  return (int)(UART(DR) & 0xFFu);
}
