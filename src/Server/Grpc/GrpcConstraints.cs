using System.Text.Json;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Serving;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Constraints;
using InferenceServer.StructuredOutputs;

namespace InferenceServer.Server.Grpc;

/// <summary>
/// The structured-output fields of <see cref="SamplingParameters"/> (guided_json, guided_regex, guided_choice,
/// json_object) as the engine's constraint, compiled through the same cached compiler as REST. A constraint outside the
/// supported subset, or two at once, is INVALID_ARGUMENT naming the field and the keyword.
/// </summary>
public static class GrpcConstraints
{
    public static ILogitsConstraint? Read(SamplingParameters? s, IInferenceEngine engine)
    {
        if (s is null) return null;
        var given = new List<(string Field, Func<StructuredOutputCompiler, TokenGrammar> Compile)>();
        if (s.HasGuidedJson) given.Add(("guided_json", c => c.JsonSchema(ParseSchema(s.GuidedJson))));
        if (s.HasGuidedRegex) given.Add(("guided_regex", c => c.Regex(s.GuidedRegex)));
        if (s.GuidedChoice.Count > 0) given.Add(("guided_choice", c => c.Choice([.. s.GuidedChoice])));
        if (s.HasJsonObject && s.JsonObject) given.Add(("json_object", c => c.JsonObject()));
        if (given.Count == 0) return null;
        if (given.Count > 1)
            throw GrpcErrors.InvalidArgument($"Only one kind of structured output may be requested; got {string.Join(", ", given.Select(g => g.Field))}.", given[1].Field);
        var (field, compile) = given[0];
        try
        {
            return new GrammarConstraint(compile(ConstraintCompilers.For(engine)));
        }
        catch (GrammarException e)
        {
            throw GrpcErrors.InvalidArgument($"{field}: {e.Message}", field);
        }
    }

    private static JsonElement ParseSchema(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = OpenAi.RequestJson.MaxDepth });
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new GrammarException($"the schema is not valid JSON: {e.Message}", "guided_json");
        }
    }
}
