using Microsoft.AspNetCore.Routing.Patterns;

namespace InferenceServer.Server.OpenAi;

/// <summary>
/// Unknown routes and wrong methods answer with OpenAI's error object instead of routing's empty responses: 404
/// "Unknown request URL: POST /v1/foo" when no route has the path, 405 "Method GET is not allowed for /v1/completions"
/// (with an Allow header) when it exists for other methods.
/// </summary>
/// <remarks>
/// Routing alone gives a mix: an empty 405 for some wrong methods but an empty 404 for others (a two-segment path such
/// as /v1/completions is also a candidate of gRPC's catch-all for unimplemented services, which turns routing's 405 into
/// a 404). So the method check is made here against the literal routes of the endpoint data source.
/// </remarks>
public static class RouteErrors
{
    public static IApplicationBuilder UseOpenAiRouteErrors(this IApplicationBuilder app) => app.Use(async (ctx, next) =>
    {
        await next(ctx);
        int status = ctx.Response.StatusCode;
        if (ctx.Response.HasStarted || status is not (StatusCodes.Status404NotFound or StatusCodes.Status405MethodNotAllowed)) return;
        if (status == StatusCodes.Status404NotFound && ctx.GetEndpoint() is not null) return; // an endpoint's own 404
        string path = ctx.Request.PathBase.Add(ctx.Request.Path).Value is { Length: > 0 } p ? p : "/";
        var allowed = AllowedMethods(ctx, ctx.Request.Path.Value ?? "/");
        if (allowed.Count > 0 && !allowed.Contains(ctx.Request.Method, StringComparer.OrdinalIgnoreCase) || status == StatusCodes.Status405MethodNotAllowed)
        {
            if (allowed.Count > 0) ctx.Response.Headers.Allow = string.Join(", ", allowed);
            await ErrorResponses.Write(ctx, new ApiException(405, $"Method {ctx.Request.Method} is not allowed for {path}.", code: "method_not_allowed"));
        }
        else
        {
            await ErrorResponses.Write(ctx, new ApiException(404, $"Unknown request URL: {ctx.Request.Method} {path}. Please check the URL for typos.", code: "unknown_url"));
        }
    });

    /// <summary>The methods of the parameterless routes whose path is <paramref name="path"/> (case and a trailing slash ignored).</summary>
    private static List<string> AllowedMethods(HttpContext ctx, string path)
    {
        string wanted = path.Trim('/');
        var methods = new List<string>();
        foreach (var e in ctx.RequestServices.GetRequiredService<EndpointDataSource>().Endpoints)
        {
            if (e is not RouteEndpoint { RoutePattern: { Parameters.Count: 0 } pattern } route) continue;
            if (!string.Equals(Literal(pattern), wanted, StringComparison.OrdinalIgnoreCase)) continue;
            if (route.Metadata.GetMetadata<IHttpMethodMetadata>() is not { HttpMethods.Count: > 0 } m) return [];  // any method
            foreach (var verb in m.HttpMethods)
                if (!methods.Contains(verb, StringComparer.OrdinalIgnoreCase)) methods.Add(verb);
        }
        return methods;
    }

    private static string Literal(RoutePattern pattern) =>
        string.Join('/', pattern.PathSegments.Select(s => string.Concat(s.Parts.OfType<RoutePatternLiteralPart>().Select(l => l.Content))));
}
