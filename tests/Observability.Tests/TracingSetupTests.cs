using InferenceServer.Server.Hosting;
using InferenceServer.Server.Settings;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace InferenceServer.Observability.Tests;

/// <summary>Traces are exported only when OTEL_EXPORTER_OTLP_ENDPOINT is configured.</summary>
public sealed class TracingSetupTests(ObservabilityFixture fx)
{
    [Fact]
    public async Task Otlp_endpoint_setting_adds_a_tracer_provider()
    {
        // Built, never started: the host is only inspected. The endpoint is a closed port; nothing is sent.
        var settings = new ServerSettings { Host = "127.0.0.1", Port = 0, GrpcPort = 0 };
        await using (var with = ServerHost.Build(fx.Engine, settings, ["--OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9"]))
            Assert.NotNull(with.Services.GetService<TracerProvider>());
        await using (var without = ServerHost.Build(fx.Engine, settings, []))
            Assert.Null(without.Services.GetService<TracerProvider>());
    }
}
