using InferenceServer.Server.Cli;

return CommandLine.Run(args);
