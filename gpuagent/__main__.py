from gpuagent.cli.app import main

main()
