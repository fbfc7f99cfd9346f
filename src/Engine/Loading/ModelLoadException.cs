namespace InferenceServer.Engine.Loading;

/// <summary>A checkpoint or config that cannot be used. The message names the file and the problem.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);
