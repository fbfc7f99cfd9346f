using InferenceServer.Engine.Models.Quantization;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Layers;

/// <summary>
/// A block's residual branch (attention or MLP) not yet added to the residual stream: its output, or, where its last
/// projection can add and normalise in its epilogue (<see cref="IAddNormLinear"/>), that projection's input, so that
/// the next norm (<see cref="RmsNorm.AddBranchForwardInto"/>) runs the projection, the add and the norm as one kernel.
/// </summary>
/// <param name="Value">[T, H] the branch's output, or (<paramref name="Projection"/> set) [T, K] the projection's input.</param>
/// <param name="Projection">The branch's last projection, not yet run; null when <paramref name="Value"/> is the output.</param>
public readonly record struct PendingBranch(Tensor Value, IAddNormLinear? Projection)
{
    /// <summary>projection(input), run now unless the projection can fuse the add and norm that follow it.</summary>
    public static PendingBranch Of(ILinearKernel projection, Tensor input) =>
        projection is IAddNormLinear { FusesAddNorm: true } fused ? new(input, fused) : new(projection.Forward(input), null);

    /// <summary>A branch whose output is already computed.</summary>
    public static PendingBranch Output(Tensor output) => new(output, null);

    /// <summary>The branch's output [T, H] (the projection runs here if it has not).</summary>
    public Tensor Project() => Projection?.Forward(Value) ?? Value;

    public PendingBranch MoveToOuterDisposeScope() => this with { Value = Value.MoveToOuterDisposeScope() };
}
