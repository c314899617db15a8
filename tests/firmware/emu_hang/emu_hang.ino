// Emulator test: never returns from setup (ends by cycle limit or wall-clock timeout).
volatile uint32_t spin;

void setup() {
  Serial.begin(115200);
  Serial.println("hanging");
  for (;;) spin++;
}

void loop() {}
