using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace InferenceServer.Engine.KvCache;

/// <summary>
/// Identity of a full block's content for prefix caching: SHA-256 (truncated to 128 bits) of the previous block's
/// hash and this block's token ids, so equal hashes mean equal whole prefixes, not just equal blocks. A cryptographic
/// hash keeps accidental collisions (which would serve one user another's cache) out of reach.
/// </summary>
public readonly record struct BlockHash(UInt128 Value)
{
    public static BlockHash Of(BlockHash? parent, ReadOnlySpan<int> tokens)
    {
        Span<byte> input = stackalloc byte[16 + tokens.Length * 4];
        if (parent is { } p) MemoryMarshal.Write(input, in p);
        MemoryMarshal.AsBytes(tokens).CopyTo(input[16..]);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(input, digest);
        return new BlockHash(MemoryMarshal.Read<UInt128>(digest));
    }
}
