using System.Text.Json;
using InferenceServer.Tokenization.Templates;

namespace InferenceServer.Tokenization.Tests.Templates;

internal static class TemplateTestHelpers
{
    public static IReadOnlyDictionary<string, object?> Context(string json) =>
        (IReadOnlyDictionary<string, object?>)TemplateValues.FromJson(JsonDocument.Parse(json).RootElement)!;

    /// <summary>Runs <paramref name="render"/>, which must fail, and names the failure as Python would print it.</summary>
    public static string PythonStyleError(Func<string> render)
    {
        try
        {
            render();
        }
        catch (TemplateSyntaxException ex)
        {
            return $"TemplateSyntaxError: {ex.Detail}";
        }
        catch (TemplateRuntimeException ex)
        {
            var type = ex.Kind switch
            {
                TemplateErrorKind.Raised => "TemplateError",
                TemplateErrorKind.Undefined => "UndefinedError",
                TemplateErrorKind.Security => "SecurityError",
                _ => "Error",
            };
            return $"{type}: {ex.Message}";
        }

        throw new Xunit.Sdk.XunitException("expected the template to fail");
    }
}
