// Exercises every API of armlprof's core; must also compile unchanged against the official cores.
#include "src/c_helper.h"
int counter = 0;

struct Ticker {
  int ticks;
  Ticker() : ticks(42) {}  // static constructor: must have run before setup()
};
Ticker ticker;

void setup() {
  Serial.begin(115200);
  pinMode(LED_BUILTIN, OUTPUT);
  digitalWrite(LED_BUILTIN, HIGH);
  Serial.print("hello ");
  Serial.println(12345);
  Serial.println(-42);
  Serial.println(3.14159, 3);
  Serial.println(255, HEX);
  Serial.print("ctor=");
  Serial.println(ticker.ticks);
  Serial.print("led=");
  Serial.println(digitalRead(LED_BUILTIN));
  unsigned long t0 = micros();
  delayMicroseconds(100);
  delay(2);
  unsigned long t1 = micros();
  Serial.print("elapsed_ok=");
  Serial.println((t1 - t0) >= 2100 ? 1 : 0);
  noInterrupts();
  counter = helper(3);
  interrupts();
  int *block = new int[16];
  char *bytes = (char *)malloc(100);
  Serial.print("alloc_ok=");
  Serial.println(block != nullptr && bytes != nullptr ? 1 : 0);
  delete[] block;
  free(bytes);
  Serial.print("millis_ok=");
  Serial.println(millis() >= 2 ? 1 : 0);
  Serial.write('W');
  Serial.write((const uint8_t *)"rite\r\n", 6);
  Serial.println("ready");
  String line = Serial.readStringUntil('\n');
  Serial.print("echo=");
  Serial.println(line);
  Serial.print("available=");
  Serial.println(Serial.available());
  Serial.print("read=");
  Serial.println(Serial.read());
  Serial.print("c_value=");
  Serial.println(c_helper(counter));
}

void loop() {}

int helper(int x) { return x * 2; }  // defined after use: needs the generated prototype
