// Emulator test: prints once, then loop() does nothing (the "idle" end of a measurement sketch).
void setup() {
  Serial.begin(115200);
  Serial.println("idle test done");
}

void loop() {}
