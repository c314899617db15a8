// Emulator benchmark and test: delay(ms) for the number of milliseconds read from the console (default 10), as a
// firmware blinking an LED forever would; the loop polls DWT CYCCNT through micros()-style 64-bit extension.
void setup() {
  Serial.begin(115200);
  String arg = Serial.readStringUntil('\n');
  unsigned long ms = arg.length() ? (unsigned long)arg.toInt() : 10;
  pinMode(LED_BUILTIN, OUTPUT);
  uint32_t blinks = 0;
  uint32_t t0 = micros();
  for (unsigned long i = 0; i < ms; ++i) {
    digitalWrite(LED_BUILTIN, i & 1);
    blinks += digitalRead(LED_BUILTIN);
    delay(1);
  }
  uint32_t t1 = micros();
  Serial.print("delay ms=");
  Serial.print(ms);
  Serial.print(" us=");
  Serial.print(t1 - t0);
  Serial.print(" checksum=");  // the same in functional and timed mode (us is not)
  Serial.println(blinks, 16);
  exit(0);
}

void loop() {}
