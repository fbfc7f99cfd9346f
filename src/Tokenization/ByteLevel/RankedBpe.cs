using System.Collections.Concurrent;
using System.Text;

namespace InferenceServer.Tokenization;

/// <summary>
/// The BPE model of HF tokenizers: a word starts as one symbol per character and the adjacent pair with the
/// lowest merge rank is merged first (leftmost on ties) until no listed merge applies. Results are cached per word,
/// because the same words come back all the time. Characters are Unicode code points, as in the Rust library; one
/// outside the vocabulary becomes its UTF-8 bytes as <c>&lt;0xXX&gt;</c> pieces with byte_fallback (SentencePiece-style
/// vocabularies), else unk (consecutive unks fused into one with fuse_unk).
/// </summary>
internal sealed class RankedBpe
{
    private const int MaxCacheEntries = 100_000;

    /// <summary>Longer words (a whole unsplit SentencePiece-style segment) are not cached: they rarely repeat.</summary>
    private const int MaxCachedWordLength = 256;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<int, int> _charIds;
    private readonly int[]? _byteIds;
    private readonly bool _fuseUnk;
    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    private readonly bool _ignoreMerges;
    private readonly int? _unkId;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    public RankedBpe(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, bool ignoreMerges, int? unkId,
        bool byteFallback = false, bool fuseUnk = false)
    {
        _vocab = vocab;
        _charIds = [];
        foreach (var (token, id) in vocab)
        {
            if (Rune.TryGetRuneAt(token, 0, out var rune) && rune.Utf16SequenceLength == token.Length)
                _charIds[rune.Value] = id;
        }
        if (byteFallback)
        {
            _byteIds = new int[256];
            for (var b = 0; b < 256; b++)
                _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out var id) ? id : -1;
        }
        _fuseUnk = fuseUnk;
        var bySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _ignoreMerges = ignoreMerges;
        _unkId = unkId;
        _merges = new Dictionary<long, (int, int)>(merges.Count);
        for (var rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (vocab.TryGetValue(left, out var l) && vocab.TryGetValue(right, out var r) &&
                bySpan.TryGetValue(string.Concat(left.AsSpan(), right.AsSpan()), out var merged))
                _merges.TryAdd(Key(l, r), (rank, merged));
            else
                throw new InvalidDataException($"merge #{rank} \"{left} {right}\" uses a token missing from the vocabulary");
        }
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    public void Encode(string word, List<int> output)
    {
        if (_cache.TryGetValue(word, out var cached))
        {
            output.AddRange(cached);
            return;
        }
        var ids = Merge(word);
        if (word.Length > MaxCachedWordLength)
        {
            output.AddRange(ids);
            return;
        }
        if (_cache.Count >= MaxCacheEntries)
            _cache.Clear();
        _cache[word] = ids;
        output.AddRange(ids);
    }

    private struct Symbol
    {
        public int Id;
        public int Prev;
        public int Next;
        public bool Removed;
    }

    private int[] Merge(string word)
    {
        // ignore_merges (Llama-3): a word that is itself in the vocabulary is taken whole.
        if (_ignoreMerges && _vocab.TryGetValue(word, out var whole))
            return [whole];

        var symbols = new List<Symbol>(word.Length);
        void Add(int id) => symbols.Add(new Symbol { Id = id, Prev = symbols.Count - 1, Next = symbols.Count + 1 });
        Span<byte> utf8 = stackalloc byte[4];
        var lastWasUnk = false;
        foreach (var rune in word.EnumerateRunes())
        {
            if (_charIds.TryGetValue(rune.Value, out var id))
            {
                Add(id);
                lastWasUnk = false;
                continue;
            }
            if (_byteIds is not null)
            {
                var length = rune.EncodeToUtf8(utf8);
                var all = true;
                for (var b = 0; b < length; b++)
                    all &= _byteIds[utf8[b]] >= 0;
                if (all)
                {
                    for (var b = 0; b < length; b++)
                        Add(_byteIds[utf8[b]]);
                    lastWasUnk = false;
                    continue;
                }
            }
            if (_unkId is { } unk && !(_fuseUnk && lastWasUnk))
                Add(unk);
            lastWasUnk = _unkId is not null;
        }
        if (symbols.Count == 0)
            return [];
        var list = symbols.ToArray();
        list[^1].Next = -1;

        var agenda = new PriorityQueue<(int Pos, int NewId), (int Rank, int Pos)>();
        void MaybeAddPair(int pos)
        {
            if (pos < 0 || list[pos].Next < 0)
                return;
            if (_merges.TryGetValue(Key(list[pos].Id, list[list[pos].Next].Id), out var merge))
                agenda.Enqueue((pos, merge.Id), (merge.Rank, pos));
        }
        for (var i = 0; i < list.Length - 1; i++)
            MaybeAddPair(i);

        while (agenda.TryDequeue(out var entry, out _))
        {
            ref var left = ref list[entry.Pos];
            if (left.Removed || left.Next < 0)
                continue;
            var rightPos = left.Next;
            // Stale entry: either side changed since it was queued, so the pair is no longer this merge.
            if (!_merges.TryGetValue(Key(left.Id, list[rightPos].Id), out var merge) || merge.Id != entry.NewId)
                continue;
            left.Id = merge.Id;
            left.Next = list[rightPos].Next;
            list[rightPos].Removed = true;
            if (left.Next >= 0)
                list[left.Next].Prev = entry.Pos;
            MaybeAddPair(left.Prev);
            MaybeAddPair(entry.Pos);
        }

        var ids = new List<int>();
        for (var i = 0; i >= 0; i = list[i].Next)
            ids.Add(list[i].Id);
        return ids.ToArray();
    }
}
