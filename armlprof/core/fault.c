/* HardFault report: one protocol line on the console with PC, LR and the fault status registers, then halt. */
#include "Arduino.h"
#include "cortex_m.h"

static void put_text(const char *s) {
  while (*s) armlprof_console_putc(*s++);
}

static void put_hex(const char *key, uint32_t value) {
  put_text(key);
  put_text("=0x");
  for (int shift = 28; shift >= 0; shift -= 4) armlprof_console_putc("0123456789abcdef"[(value >> shift) & 0xFu]);
}

void armlprof_fault_report(const uint32_t *frame, uint32_t exc_return) {
  (void)exc_return;
  armlprof_console_init(115200);
  put_text("\r\n@armlprof event=fault kind=hardfault");
  put_hex(" pc", frame[6]);
  put_hex(" lr", frame[5]);
  put_hex(" cfsr", SCB_CFSR);
  put_hex(" hfsr", SCB_HFSR);
  put_hex(" mmfar", SCB_MMFAR);
  put_hex(" bfar", SCB_BFAR);
  put_text("\r\n");
  for (;;) {
  }
}
