*** Settings ***
Documentation     Inference time: N timed inferences (interrupts disabled around each), outputs checked by CRC.
Resource          armlprof.resource
Suite Setup       Prepare Model    ${MODEL}    ${RUNTIME}
Suite Teardown    Close Targets
Test Tags         figure:inference

*** Test Cases ***
Inference Is Timed
    Build Sketch    inference_time
    ${inference}=    Measure Inference    8
    Should Be Equal As Integers    ${inference}[runs]    8
    Should Be True    ${inference}[cycles] > 0
