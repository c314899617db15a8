*** Settings ***
Documentation     Flash: the inference sketch's size from its ELF, total and beyond the empty sketch.
Resource          armlprof.resource
Suite Setup       Prepare Model    ${MODEL}    ${RUNTIME}
Suite Teardown    Close Targets
Test Tags         figure:flash

*** Test Cases ***
Flash Is Total Minus Empty Sketch
    Build Sketch    inference_time
    ${flash}=    Measure Flash
    Should Be True    ${flash}[flash_bytes] > ${flash}[baseline_flash_bytes] > 0
    Should Be Equal As Integers    ${flash}[model_flash_bytes]    ${${flash}[flash_bytes] - ${flash}[baseline_flash_bytes]}
