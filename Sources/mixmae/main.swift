import Host

MixmaeCommand.main()
