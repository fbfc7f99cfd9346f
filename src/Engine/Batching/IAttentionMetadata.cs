namespace InferenceServer.Engine.Batching;

/// <summary>
/// What an attention backend derives from a <see cref="ForwardBatch"/> for its kernels (block tables, slot lists,
/// varlen offsets, masks); built once per forward pass, owned and disposed by the batch.
/// </summary>
public interface IAttentionMetadata : IDisposable;
