using static InferenceServer.StructuredOutputs.GrammarNode;

namespace InferenceServer.StructuredOutputs;

/// <summary>
/// JSON's lexical pieces (RFC 8259) as grammar nodes, in compact form: no whitespace between tokens, so a value has
/// one spelling per content and output stays short.
/// </summary>
internal static class JsonPrimitives
{
    private static GrammarNode Chars(params (int Lo, int Hi)[] ranges) => new CodePointSetNode(ranges);

    private static readonly GrammarNode Digit = Chars(('0', '9'));
    private static readonly GrammarNode HexDigit = Chars(('0', '9'), ('A', 'F'), ('a', 'f'));

    /// <summary>A string character: any code point from U+0020 except '"' and '\', or an escape (\" \\ \/ \b \f \n \r \t \uXXXX).</summary>
    public static readonly GrammarNode StringCharacter = Choice(
        Chars((0x20, 0x21), (0x23, 0x5B), (0x5D, 0x10FFFF)),
        Seq(Text("\\"), Choice(Chars(('"', '"'), ('\\', '\\'), ('/', '/'), ('b', 'b'), ('f', 'f'), ('n', 'n'), ('r', 'r'), ('t', 't')),
            Seq(Text("u"), HexDigit, HexDigit, HexDigit, HexDigit))));

    public static readonly GrammarNode String = Seq(Text("\""), new RepeatNode(StringCharacter, 0, -1), Text("\""));

    /// <summary>-?(0|[1-9][0-9]*)</summary>
    public static readonly GrammarNode Integer = Seq(Optional(Text("-")),
        Choice(Text("0"), Seq(Chars(('1', '9')), new RepeatNode(Digit, 0, -1))));

    /// <summary>Integer, optional fraction, optional exponent ([eE][+-]?[0-9]+).</summary>
    public static readonly GrammarNode Number = Seq(Integer,
        Optional(Seq(Text("."), new RepeatNode(Digit, 1, -1))),
        Optional(Seq(Chars(('e', 'e'), ('E', 'E')), Optional(Chars(('+', '+'), ('-', '-'))), new RepeatNode(Digit, 1, -1))));

    public static readonly GrammarNode Boolean = Choice(Text("true"), Text("false"));

    public static readonly GrammarNode Null = Text("null");

    /// <summary>Nesting depth of objects and arrays in schema-free JSON (json_object mode, untyped schemas).</summary>
    public const int AnyValueDepth = 5;

    /// <summary>Any JSON value with objects/arrays nested at most <paramref name="depth"/> deep.</summary>
    public static GrammarNode AnyValue(int depth)
    {
        GrammarNode scalars = Choice(String, Number, Boolean, Null);
        return depth <= 0 ? scalars : Choice(scalars, AnyObject(depth), AnyArray(depth));
    }

    /// <summary>Any JSON object; its values nest at most <paramref name="depth"/> - 1 deeper.</summary>
    public static GrammarNode AnyObject(int depth) =>
        new SeparatedListNode(Text("{"), Seq(String, Text(":"), AnyValue(depth - 1)), Text(","), Text("}"), 0);

    public static GrammarNode AnyArray(int depth) => ArrayOf(AnyValue(depth - 1), 0);

    public static GrammarNode ArrayOf(GrammarNode item, int minItems) =>
        new SeparatedListNode(Text("["), item, Text(","), Text("]"), minItems);
}
