*** Settings ***
Documentation     Unused RAM: bisection of malloc(N) held while the model initializes and runs, one image for every
...               step (N over the console), with sanity checks before and after.
Resource          armlprof.resource
Suite Setup       Prepare Model    ${MODEL}    ${RUNTIME}
Suite Teardown    Close Targets
Test Tags         figure:ram

*** Test Cases ***
Probe Answers Over The Console
    Build Sketch    ram_probe
    Start Board
    Wait For Line On Console    event=ready
    Write Line To Console    alloc=1024 seed=7
    ${crc}=    Expected CRC    7
    Wait For Line On Console    status=ok crc=${crc}
    ${end}=    Wait For Run To End
    Should Be Equal    ${end}    exit
    [Teardown]    Stop Board

Largest Allocation Agrees With The Memory Watch
    Build Sketch    ram_probe
    ${free}=    Find Largest Allocation
    Should Be True    ${free} > 0
    ${estimate}=    Memory Watch Estimate
    IF    $estimate is not None
        Should Be True    abs(${free} - ${estimate}) <= 64
    END
