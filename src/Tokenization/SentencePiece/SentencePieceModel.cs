namespace InferenceServer.Tokenization;

/// <summary>The kind of a vocabulary entry, as <c>ModelProto.SentencePiece.Type</c> numbers it.</summary>
public enum SentencePieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

public readonly record struct SentencePiece(string Piece, float Score, SentencePieceType Type);

/// <summary>
/// The parts of a SentencePiece <c>tokenizer.model</c> (a serialized <c>ModelProto</c>) that encoding and
/// decoding need. Field numbers follow sentencepiece_model.proto.
/// </summary>
public sealed class SentencePieceModel
{
    public required IReadOnlyList<SentencePiece> Pieces { get; init; }

    /// <summary>TrainerSpec.model_type: 1 unigram, 2 BPE, 3 word, 4 char.</summary>
    public int ModelType { get; init; } = 1;

    public bool ByteFallback { get; init; }

    public int UnkId { get; init; }

    public int BosId { get; init; } = 1;

    public int EosId { get; init; } = 2;

    public int PadId { get; init; } = -1;

    public bool TreatWhitespaceAsSuffix { get; init; }

    public string NormalizerName { get; init; } = "nmt_nfkc";

    /// <summary>Length of NormalizerSpec.precompiled_charsmap; non-zero means a character mapping we don't apply.</summary>
    public int PrecompiledCharsmapLength { get; init; }

    public bool AddDummyPrefix { get; init; } = true;

    public bool RemoveExtraWhitespaces { get; init; } = true;

    public bool EscapeWhitespaces { get; init; } = true;

    public const int BpeModelType = 2;

    public static SentencePieceModel Load(string path)
    {
        if (!File.Exists(path))
            throw new TokenizerLoadException(path, "file not found");
        try
        {
            return Parse(File.ReadAllBytes(path));
        }
        catch (InvalidDataException e)
        {
            throw new TokenizerLoadException(path, $"not a valid SentencePiece model: {e.Message}", e);
        }
    }

    public static SentencePieceModel Parse(byte[] bytes)
    {
        var pieces = new List<SentencePiece>();
        var trainer = new Dictionary<int, object>();
        var normalizer = new Dictionary<int, object>();
        var reader = new ProtoReader(bytes);
        while (reader.TryReadField(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtoReader.WireType.LengthDelimited:
                    pieces.Add(ReadPiece(reader.ReadMessage()));
                    break;
                case 2 when wire == ProtoReader.WireType.LengthDelimited:
                    ReadSpec(reader.ReadMessage(), trainer, stringFields: [], bytesFields: []);
                    break;
                case 3 when wire == ProtoReader.WireType.LengthDelimited:
                    ReadSpec(reader.ReadMessage(), normalizer, stringFields: [1], bytesFields: [2]);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
        if (pieces.Count == 0)
            throw new InvalidDataException("the model has no pieces");

        int Int(Dictionary<int, object> spec, int field, int fallback) =>
            spec.TryGetValue(field, out var v) ? unchecked((int)(ulong)v) : fallback;
        bool Bool(Dictionary<int, object> spec, int field, bool fallback) =>
            spec.TryGetValue(field, out var v) ? (ulong)v != 0 : fallback;

        return new SentencePieceModel
        {
            Pieces = pieces,
            ModelType = Int(trainer, 3, 1),
            TreatWhitespaceAsSuffix = Bool(trainer, 24, false),
            ByteFallback = Bool(trainer, 35, false),
            UnkId = Int(trainer, 40, 0),
            BosId = Int(trainer, 41, 1),
            EosId = Int(trainer, 42, 2),
            PadId = Int(trainer, 43, -1),
            NormalizerName = normalizer.TryGetValue(1, out var name) ? (string)name : "nmt_nfkc",
            PrecompiledCharsmapLength = Int(normalizer, 2, 0),
            AddDummyPrefix = Bool(normalizer, 3, true),
            RemoveExtraWhitespaces = Bool(normalizer, 4, true),
            EscapeWhitespaces = Bool(normalizer, 5, true),
        };
    }

    private static SentencePiece ReadPiece(ProtoReader reader)
    {
        string piece = "";
        float score = 0;
        var type = SentencePieceType.Normal;
        while (reader.TryReadField(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtoReader.WireType.LengthDelimited: piece = reader.ReadString(); break;
                case 2 when wire == ProtoReader.WireType.Fixed32: score = reader.ReadFloat(); break;
                case 3 when wire == ProtoReader.WireType.Varint: type = (SentencePieceType)reader.ReadInt32(); break;
                default: reader.Skip(wire); break;
            }
        }
        return new SentencePiece(piece, score, type);
    }

    /// <summary>
    /// Collects the scalar fields of a spec message by number: varints as ulong, strings as string,
    /// and for bytes fields only their length (we only need to know whether a charsmap is present).
    /// </summary>
    private static void ReadSpec(ProtoReader reader, Dictionary<int, object> values, int[] stringFields, int[] bytesFields)
    {
        while (reader.TryReadField(out var field, out var wire))
        {
            if (wire == ProtoReader.WireType.Varint)
                values[field] = reader.ReadVarint();
            else if (wire == ProtoReader.WireType.LengthDelimited && stringFields.Contains(field))
                values[field] = reader.ReadString();
            else if (wire == ProtoReader.WireType.LengthDelimited && bytesFields.Contains(field))
                values[field] = (ulong)reader.ReadBytesLength();
            else
                reader.Skip(wire);
        }
    }
}
