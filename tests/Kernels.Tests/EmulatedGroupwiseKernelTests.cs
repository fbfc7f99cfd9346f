namespace InferenceServer.Kernels.Tests;

/// <summary>
/// The group-wise (ZeroQuant / pack-quantized) CUDA kernels, groupwise_gemm.cu and groupwise_a16_aligned.cu, run by
/// the emulator (<see cref="KernelEmulator"/>): A16 (bf16/fp16 activations, dequantized into tensor-core fragments),
/// A8 (INT8 MMAs with exact per-group sums) and the dequantize kernel, against the exact dequantized weights, on the
/// shapes of tests/Gpu.Tests/GroupwiseKernelTests with fewer output rows. INT4 with G = 128·2^s and K a multiple of
/// 256 runs the aligned A16 kernel, the other shapes the general one; INFERENCE_GROUPWISE_A16_ALIGNED=0 sends the
/// aligned shapes to the general kernel too. The aligned kernel's persistent blocks walk several row tiles each where
/// the emulated device has few multiprocessors (SIMT_SM_COUNT), and one tile each with
/// INFERENCE_GROUPWISE_A16_PERSISTENT=0; at one token it reads x permuted in shared memory, from global memory with
/// INFERENCE_GROUPWISE_A16_X_SHARED=0; past one token a warp takes two 16-channel row tiles where that shortens each
/// block's walk of tiles (here: with one emulated multiprocessor), else one; one everywhere with
/// INFERENCE_GROUPWISE_A16_ROW_TILES=1, four with =4. The Hopper kernel is checked on its own shapes. Arguments: dtype,
/// bits, sym|asym, group, M, N, K.
/// </summary>
public sealed class EmulatedGroupwiseKernelTests
{
    private const string General = "INFERENCE_GROUPWISE_A16_ALIGNED=0";
    // Two persistent blocks (one at 17+ tokens) walk every tile, one row tile per warp.
    private const string OneSm = "INFERENCE_GROUPWISE_A16_ROW_TILES=1 SIMT_SM_COUNT=1";
    private const string TwoRowTiles = "SIMT_SM_COUNT=1";  // the same grid, two row tiles per warp past one token

    public static TheoryData<string, string> A16 => new()
    {
        { "bf16 4 asym 128 1 136 4096", "" },      // aligned: Llama's K, several passes per warp, N not a multiple of 16
        { "bf16 4 asym 128 1 136 4096", General }, // the same on the general kernel (scale after the MMA)
        { "fp16 4 sym 128 3 72 1024", "" },
        { "bf16 4 asym 32 8 72 768", "" },         // general: G < 128, the scale applied to the fragments
        { "fp16 4 asym 64 16 72 768", "" },        // general, two token tiles
        { "bf16 4 sym 256 17 72 1024", "" },       // aligned, 2 chunks per group, four token tiles
        { "bf16 4 sym 256 17 72 1024", General },
        { "bf16 4 asym 128 100 40 1024", "" },     // several 32-row token tiles on grid.y, the last partly filled
        { "fp16 4 sym 32 33 40 768", "" },         // general, a partial second tile
        { "bf16 4 asym 128 5 40 640", "" },        // K not a multiple of 256: general kernel, a last partial pass
        { "fp16 4 sym 128 12 40 2048", "" },       // aligned, two tiles, symmetric, one row tile (one round either way)
        { "fp16 4 asym 256 2 72 4352", "" },       // aligned, a last pass with one warp's chunks
        { "fp16 4 asym 256 2 72 4352", General },
        { "bf16 4 sym 512 7 48 1024", "" },        // aligned, 4 chunks per group
        { "bf16 4 asym 128 1 40 256", "" },        // aligned, the smallest K: seven idle warps
        { "bf16 4 asym 128 1 136 4096", OneSm },   // 9 tiles on 2 blocks: the ring runs on across tiles
        { "fp16 4 sym 256 12 40 2048", OneSm },    // one stage per tile: a tile ends at every stage
        { "bf16 4 asym 128 100 40 1024", OneSm },  // four token tiles on grid.y, one persistent block each
        { "bf16 4 asym 128 5 136 256", OneSm },    // the smallest K: seven idle warps in every stage
        { "fp16 4 asym 256 2 72 4352", "INFERENCE_GROUPWISE_A16_PERSISTENT=0" }, // a block per tile
        { "bf16 4 asym 128 1 136 4096", "INFERENCE_GROUPWISE_A16_X_SHARED=0" },  // one token, x read from global memory
        { "fp16 4 sym 128 12 40 2048", TwoRowTiles },   // two row tiles of one chunk per stage
        { "bf16 4 asym 256 17 72 1024", TwoRowTiles },
        { "bf16 4 asym 128 100 40 1024", TwoRowTiles },  // four token tiles on grid.y
        { "bf16 4 sym 256 9 136 1024", "INFERENCE_GROUPWISE_A16_ROW_TILES=4" },  // four row tiles, the last one partly past N
        { "fp16 4 asym 128 1 24 16640", "" },      // one token past the 16384 columns x may occupy in shared memory
        { "bf16 4 sym 512 1 48 1024", OneSm },     // one token, x in shared memory, G = 512
        { "bf16 8 asym 128 1 136 4096", "" },      // INT8 codes (through float), scale after the MMA
        { "fp16 8 sym 32 3 72 768", "" },          // INT8, the scale applied to the fragments
        { "bf16 8 asym 64 17 72 768", "" },
    };

    [Theory]
    [MemberData(nameof(A16))]
    public void A16MatchesTheDequantizedReference(string args, string environment) => KernelEmulator.Check("groupwise a16 " + args, environment);

    /// <summary>
    /// The Hopper kernel (groupwise_gemm_sm90.cu on dequant_gemm_sm90.cuh: TMA stages, fragments decoded from shared
    /// memory, warpgroup MMAs), which serving takes on Hopper at 17–128 rows: decode tiles of 8–64 tokens
    /// with K split over a cluster (132 multiprocessors emulated), prefill tiles of 128 and 256 tokens (the latter with
    /// a producer warpgroup, never split; INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=256 takes them at any row count above
    /// 64), a K that ends mid-stage, and the mma.sync consumer of the decode tiles (INFERENCE_DEQUANT_SM90_SYNC_MMA=1).
    /// </summary>
    public static TheoryData<string, string> A16Hopper => new()
    {
        { "bf16 4 asym 128 1 136 1024", "" },        // 8-token tile, a cluster of 4 blocks over K
        { "bf16 4 asym 128 1 136 1024", "INFERENCE_DEQUANT_SM90_SYNC_MMA=1" },
        { "bf16 4 asym 128 17 520 1024", "" },       // 32-token tile
        { "fp16 4 sym 256 33 264 2048", "" },        // 64-token tile
        { "fp16 4 sym 256 16 264 2048", "INFERENCE_DEQUANT_SM90_SYNC_MMA=1" },
        { "bf16 4 asym 128 100 520 1024", "" },      // a 128-token prefill tile, partly filled
        { "fp16 4 asym 128 130 264 640", "" },       // two 128-token tiles; K ends mid-stage
        { "bf16 4 sym 256 300 1000 768", "" },       // 256-token tiles
        // 256-token tiles: a single one, partly filled (not split over K), and two, the second partly filled.
        { "bf16 4 asym 128 100 520 1024", "INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=256" },
        { "fp16 4 asym 128 300 264 640", "INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=256" },
        // One multiprocessor: no K split, so a block runs 16 stages through 8 buffers and every stage barrier turns
        // over (the phase parities of the producer/consumer hand-off).
        { "bf16 4 asym 128 1 136 4096", "SIMT_SM_COUNT=1" },
        { "bf16 4 asym 128 9 136 4096", "SIMT_SM_COUNT=1 INFERENCE_DEQUANT_SM90_SYNC_MMA=1" },
        { "fp16 4 sym 128 40 136 4096", "SIMT_SM_COUNT=1" },
        { "bf16 4 sym 128 200 264 4096", "SIMT_SM_COUNT=1 INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=256" },
        // Groups of 384 columns (a multiple of 128, not a power of two: the group index divides).
        { "bf16 4 asym 384 33 136 1536", "" },
        // GPCs of 3 multiprocessors hold no cluster of 4: the two channel tiles' K goes to clusters of 3, the last
        // block of each with no stage of the 4 (one block per multiprocessor, 8 of them).
        { "fp16 4 sym 128 33 136 1024", "SIMT_SM_COUNT=8 SIMT_GPC_SMS=3" },
    };

    [Theory]
    [MemberData(nameof(A16Hopper))]
    public void HopperA16MatchesTheDequantizedReference(string args, string environment) => KernelEmulator.Check("groupwise a16-sm90 " + args, environment);

    /// <summary>
    /// The gated MLP's gate/up projection on the aligned kernel, W = [gate; up] with N = 2I rows: each row tile pairs
    /// 8 gate rows with their up rows and the epilogue stores silu(gate)·up [M, I], bit-equal to the plain kernel's
    /// [M, 2I] projection then silu_mul (both emulated), bias included. I not a multiple of 8 leaves a partial last
    /// tile; with one multiprocessor the persistent blocks walk many tiles, past one token with two row tiles per warp.
    /// </summary>
    [Theory]
    [InlineData("bf16 4 asym 128 1 200 4096", "")]            // one token, x in shared memory, I = 100
    [InlineData("fp16 4 sym 256 3 144 1024", "")]
    [InlineData("bf16 4 asym 128 16 272 1024", TwoRowTiles)]  // two token tiles, two row tiles per warp
    [InlineData("fp16 4 asym 128 9 136 2048", OneSm)]         // one row tile per warp, the ring across tiles
    [InlineData("bf16 4 sym 128 1 200 4096", "INFERENCE_GROUPWISE_A16_X_SHARED=0")]
    public void A16GatedIsBitEqualToTheProjectionThenSiluMul(string args, string environment) => KernelEmulator.Check("groupwise a16-gated " + args, environment);

    public static TheoryData<string> A8 => new()
    {
        "fp32 4 asym 128 1 136 4096",
        "bf16 4 sym 32 33 72 768",     // bf16 output, 33 rows in one 64-row A8 tile
        "fp16 8 asym 64 17 72 768",
        "fp32 8 sym 128 64 40 1024",
        "bf16 4 asym 128 100 40 1024", // two A8 tiles
    };

    [Theory]
    [MemberData(nameof(A8))]
    public void A8MatchesTheQuantizedActivationReference(string args) => KernelEmulator.Check("groupwise a8 " + args);

    [Theory]
    [InlineData("bf16 4 asym 32 1 72 768")]
    [InlineData("fp16 8 sym 128 1 40 1024")]
    [InlineData("fp32 4 sym 256 1 40 1024")]
    public void DequantizeIsBitEqualToTheFormula(string args) => KernelEmulator.Check("groupwise dequant " + args);
}
