"""Robot Framework keywords for armlprof (`Library    armlprof.robot.ArmlprofLibrary`)."""
