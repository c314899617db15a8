// Emulator test: prints, measures a busy loop with micros() and exits with code 7.
volatile uint32_t sink;

void setup() {
  Serial.begin(115200);
  Serial.println("hello from armlprof");
  uint32_t t0 = micros();
  for (uint32_t i = 0; i < 1000; ++i) sink += i;
  uint32_t t1 = micros();
  Serial.print("busy_us=");
  Serial.println(t1 - t0);
  exit(7);
}

void loop() {}
