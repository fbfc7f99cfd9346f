using System.Collections.Concurrent;

namespace InferenceServer.Tokenization;

/// <summary>
/// The BPE model of HF tokenizers: a word starts as one symbol per character and the adjacent pair with the
/// lowest merge rank is merged first (leftmost on ties) until no listed merge applies. Results are cached per word,
/// because the same words come back all the time.
/// </summary>
internal sealed class RankedBpe
{
    private const int MaxCacheEntries = 100_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<char, int> _charIds;
    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    private readonly bool _ignoreMerges;
    private readonly int? _unkId;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    public RankedBpe(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, bool ignoreMerges, int? unkId)
    {
        _vocab = vocab;
        _charIds = vocab.Where(e => e.Key.Length == 1).ToDictionary(e => e.Key[0], e => e.Value);
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
        foreach (var c in word)
        {
            if (_charIds.TryGetValue(c, out var id))
                symbols.Add(new Symbol { Id = id, Prev = symbols.Count - 1, Next = symbols.Count + 1 });
            else if (_unkId is { } unk)
                symbols.Add(new Symbol { Id = unk, Prev = symbols.Count - 1, Next = symbols.Count + 1 });
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
