using System.Reflection;

namespace InferenceServer.Server.OpenAi;

/// <summary>
/// GET /docs: a small self-contained page that renders /openapi/v1.json. Swagger UI and friends load from CDNs,
/// which an offline machine cannot reach, so the page and its script are embedded in the server.
/// </summary>
public static class ApiDocsPage
{
    private static readonly Lazy<string> Html = new(() =>
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("InferenceServer.Server.docs.html")
            ?? throw new InvalidOperationException("embedded docs.html is missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    public static IEndpointRouteBuilder MapApiDocsPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/docs", () => Results.Content(Html.Value, "text/html; charset=utf-8")).ExcludeFromDescription();
        return app;
    }
}
