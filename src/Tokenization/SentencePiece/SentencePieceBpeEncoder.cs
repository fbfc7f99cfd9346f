using System.Text;

namespace InferenceServer.Tokenization;

/// <summary>
/// SentencePiece's BPE segmentation (bpe_model.cc): start from single characters, then repeatedly merge the
/// adjacent pair whose concatenation is a vocabulary piece with the highest score; equal scores go to the
/// leftmost pair. Characters left without a piece become byte pieces (byte_fallback) or unk.
/// </summary>
internal sealed class SentencePieceBpeEncoder
{
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _mergeableBySpan;
    private readonly float[] _scores;
    private readonly int[] _byteIds;
    private readonly bool _byteFallback;
    private readonly int _unkId;
    private readonly AddedTokenSplitter? _userDefined;

    public SentencePieceBpeEncoder(SentencePieceModel model, Dictionary<string, int> mergeable, int[] byteIds)
    {
        _mergeableBySpan = mergeable.GetAlternateLookup<ReadOnlySpan<char>>();
        _scores = model.Pieces.Select(p => p.Score).ToArray();
        _byteIds = byteIds;
        _byteFallback = model.ByteFallback;
        _unkId = model.UnkId;
        var userDefined = model.Pieces
            .Select((p, id) => (p, id))
            .Where(x => x.p.Type == SentencePieceType.UserDefined)
            .Select(x => new AddedToken(x.p.Piece, x.id, Special: false))
            .ToList();
        _userDefined = userDefined.Count > 0 ? new AddedTokenSplitter(userDefined) : null;
    }

    /// <summary>A symbol of the working sequence: a span of the normalized text, linked to its neighbours.</summary>
    private struct Symbol
    {
        public int Start;
        public int Length;
        public int Prev;
        public int Next;
        public bool Frozen; // user-defined pieces are never merged with neighbours
    }

    /// <summary>Encodes already-normalized text (spaces escaped to ▁, dummy prefix added) and appends the ids.</summary>
    public void Encode(string normalized, List<int> output)
    {
        if (normalized.Length == 0)
            return;
        var symbols = SplitIntoCharacters(normalized);
        var agenda = new PriorityQueue<(int Left, int Right, int Length), (float NegScore, int Left)>();

        void MaybeAddPair(int left, int right)
        {
            if (left < 0 || right < 0 || symbols[left].Frozen || symbols[right].Frozen)
                return;
            var length = symbols[left].Length + symbols[right].Length;
            // Span lookup: no string is allocated for the many candidate pairs that are not pieces.
            if (_mergeableBySpan.TryGetValue(normalized.AsSpan(symbols[left].Start, length), out var id))
                agenda.Enqueue((left, right, length), (-_scores[id], left));
        }

        for (var i = 1; i < symbols.Length; i++)
            MaybeAddPair(i - 1, i);

        while (agenda.TryDequeue(out var pair, out _))
        {
            ref var left = ref symbols[pair.Left];
            ref var right = ref symbols[pair.Right];
            // Stale entry: one side was merged away or grew since the pair was queued.
            if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != pair.Length)
                continue;
            left.Length += right.Length;
            left.Next = right.Next;
            if (right.Next >= 0)
                symbols[right.Next].Prev = pair.Left;
            right.Length = 0;
            MaybeAddPair(left.Prev, pair.Left);
            MaybeAddPair(pair.Left, left.Next);
        }

        for (var i = 0; i >= 0 && i < symbols.Length; i = symbols[i].Next)
            EmitPiece(normalized.AsSpan(symbols[i].Start, symbols[i].Length), output);
    }

    private Symbol[] SplitIntoCharacters(string text)
    {
        var spans = new List<(int Start, int Length, bool Frozen)>();
        if (_userDefined is null)
        {
            AddCharacters(text, 0, text.Length, spans);
        }
        else
        {
            var offset = 0;
            foreach (var segment in _userDefined.Split(text))
            {
                var length = segment.IsToken ? segment.Token!.Content.Length : segment.Text!.Length;
                if (segment.IsToken)
                    spans.Add((offset, length, true));
                else
                    AddCharacters(text, offset, offset + length, spans);
                offset += length;
            }
        }
        var symbols = new Symbol[spans.Count];
        for (var i = 0; i < spans.Count; i++)
        {
            symbols[i] = new Symbol
            {
                Start = spans[i].Start,
                Length = spans[i].Length,
                Prev = i - 1,
                Next = i + 1 < spans.Count ? i + 1 : -1,
                Frozen = spans[i].Frozen,
            };
        }
        return symbols;
    }

    private static void AddCharacters(string text, int start, int end, List<(int, int, bool)> spans)
    {
        for (var i = start; i < end;)
        {
            // A surrogate pair is one character (one UTF-8 sequence) for sentencepiece.
            var length = char.IsHighSurrogate(text[i]) && i + 1 < end && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            spans.Add((i, length, false));
            i += length;
        }
    }

    private void EmitPiece(ReadOnlySpan<char> piece, List<int> output)
    {
        if (_mergeableBySpan.TryGetValue(piece, out var id))
        {
            output.Add(id);
            return;
        }
        if (!_byteFallback)
        {
            output.Add(_unkId);
            return;
        }
        Span<byte> bytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(piece.Length)];
        var count = Encoding.UTF8.GetBytes(piece, bytes);
        foreach (var b in bytes[..count])
            output.Add(_byteIds[b] >= 0 ? _byteIds[b] : _unkId);
    }
}
