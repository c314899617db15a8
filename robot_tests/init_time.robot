*** Settings ***
Documentation     Initialization time: one timed construction of the model per boot.
Resource          armlprof.resource
Suite Setup       Prepare Model    ${MODEL}    ${RUNTIME}
Suite Teardown    Close Targets
Test Tags         figure:init

*** Test Cases ***
Initialization Is Timed
    Build Sketch    init_time
    ${init}=    Measure Init
    Should Be True    ${init}[cycles] > 0
    Should Be True    ${init}[ms_min] <= ${init}[ms] <= ${init}[ms_max]
