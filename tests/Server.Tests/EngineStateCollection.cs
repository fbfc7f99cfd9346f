namespace InferenceServer.Server.Tests;

/// <summary>
/// Tests that assert on the shared engine as a whole (it goes idle, every KV block is free again, an abort counter
/// moved by exactly their own request). Other tests' requests would blur those, so this collection runs on its own,
/// after the parallel collections, one test at a time. A test here first waits (bounded) for the engine to be idle,
/// so stragglers from earlier tests are not counted.
/// </summary>
[CollectionDefinition(nameof(EngineStateCollection), DisableParallelization = true)]
public sealed class EngineStateCollection;
