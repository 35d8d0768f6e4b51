import Host

PluginRecipeSchemaProvider.install()
MixmaeCommand.main()
