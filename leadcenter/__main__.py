from leadcenter.cli import main

main()
