import { Controller, Get, Header } from '@nestjs/common';
import { Public } from '@runforge/service';
import { buildOpenApiDocument } from './openapi.document';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>RunForge API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`;

// A file rather than an inline script: the Content-Security-Policy allows scripts from 'self' only.
const INIT = `SwaggerUIBundle({ url: '/docs/openapi.json', dom_id: '#ui' });\n`;

/** OpenAPI at `/docs` (Swagger UI served from the swagger-ui-dist package, no CDN) and `/docs/openapi.json`. */
@Public()
@Controller('docs')
export class ApiDocsController {
  private readonly document = buildOpenApiDocument();

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  page(): string {
    return PAGE;
  }

  @Get('init.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  init(): string {
    return INIT;
  }

  @Get('openapi.json')
  openapi(): Record<string, unknown> {
    return this.document;
  }
}
