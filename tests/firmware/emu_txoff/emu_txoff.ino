// Emulator test: on nano33ble a byte written to the UART's TXD before the UART is enabled and started is not sent
// (as on the board), then one after STOPTX is not sent either; the console's normal output is.
#include "cortex_m.h"

#define UART(off) REG32(ARMLPROF_CONSOLE_BASE + (off))

void setup() {
#ifdef ARMLPROF_BOARD_NANO33BLE
  UART(0x51C) = 'x';  // TXD, UART still off
#endif
  Serial.begin(115200);
  Serial.println("on");
#ifdef ARMLPROF_BOARD_NANO33BLE
  UART(0x00C) = 1;  // TASKS_STOPTX
  UART(0x51C) = 'y';
  UART(0x008) = 1;  // TASKS_STARTTX
#endif
  Serial.println("again");
  exit(0);
}

void loop() {}
