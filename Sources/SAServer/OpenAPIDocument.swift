// The OpenAPI document served at /api/openapi.json. docs/openapi.json is the same text;
// a test keeps the two identical (edit docs/openapi.json, then run `make openapi`).
enum OpenAPIDocument {
    static let json = #"""
{
 "openapi": "3.0.3",
 "info": {
  "title": "save_audio_stream HTTP API (recorder sync API, receiver playback API)",
  "version": "0.1.0",
  "description": "Served by sa-serve. With a record config: the recorder's sync API over every show database in output_dir. With --db FILE: the same over one database, read-only, plus the playback API and web UI (mode inspect). With a receiver config: the playback API, the web UI at / and the background sync (mode receiver). Errors are {\"error\": \"...\"}: 400 bad parameter, 401 missing or wrong bearer token, 403 recipient database, 404 unknown show/section/segment, 409 conflict, 416 unsatisfiable range, 500 only for real faults. When a record config sets api_token_profile, every path but /api/health needs Authorization: Bearer <token>."
 },
 "components": {
  "securitySchemes": {
   "bearer": {
    "type": "http",
    "scheme": "bearer"
   }
  },
  "parameters": {
   "name": {
    "name": "name",
    "in": "path",
    "required": true,
    "description": "Show name, [A-Za-z0-9_-]{1,48}",
    "schema": {
     "type": "string",
     "pattern": "^[A-Za-z0-9_-]{1,48}$"
    }
   }
  },
  "schemas": {
   "Error": {
    "type": "object",
    "required": [
     "error"
    ],
    "properties": {
     "error": {
      "type": "string"
     },
     "code": {
      "type": "string",
      "description": "The error's code, the word the tools' error records carry: not_found, bad_param, forbidden, conflict, unavailable, not_recorded_yet (a show the recorder's config records, before its first window), …"
     }
    }
   },
   "ShowSummary": {
    "type": "object",
    "required": [
     "name",
     "min_id",
     "max_id"
    ],
    "properties": {
     "name": {
      "type": "string"
     },
     "min_id": {
      "type": "integer"
     },
     "max_id": {
      "type": "integer"
     },
     "audio_format": {
      "type": "string",
      "enum": [
       "opus",
       "aac"
      ]
     },
     "bitrate": {
      "type": "string"
     },
     "unique_id": {
      "type": "string"
     }
    }
   },
   "Metadata": {
    "type": "object",
    "required": [
     "unique_id",
     "name",
     "audio_format",
     "bitrate",
     "sample_rate",
     "version",
     "is_recipient",
     "min_id",
     "max_id"
    ],
    "properties": {
     "unique_id": {
      "type": "string"
     },
     "name": {
      "type": "string"
     },
     "audio_format": {
      "type": "string",
      "enum": [
       "opus",
       "aac"
      ]
     },
     "bitrate": {
      "type": "string"
     },
     "sample_rate": {
      "type": "string"
     },
     "version": {
      "type": "string"
     },
     "is_recipient": {
      "type": "boolean"
     },
     "min_id": {
      "type": "integer",
      "nullable": true
     },
     "max_id": {
      "type": "integer",
      "nullable": true
     },
     "split_interval": {
      "type": "string"
     },
     "encoder_delay_samples": {
      "type": "string"
     }
    }
   },
   "Section": {
    "type": "object",
    "required": [
     "id",
     "start_timestamp_ms"
    ],
    "properties": {
     "id": {
      "type": "integer",
      "description": "recorder wall clock in microseconds when the connection opened"
     },
     "start_timestamp_ms": {
      "type": "integer"
     },
     "is_open": {
      "type": "boolean"
     },
     "end_timestamp_ms": {
      "type": "integer",
      "nullable": true
     },
     "finish_reason": {
      "type": "string",
      "nullable": true
     },
     "first_segment_id": {
      "type": "integer",
      "nullable": true
     },
     "last_segment_id": {
      "type": "integer",
      "nullable": true
     },
     "segments": {
      "type": "integer"
     },
     "duration_samples": {
      "type": "integer"
     }
    }
   },
   "Segment": {
    "type": "object",
    "required": [
     "id",
     "timestamp_ms",
     "is_timestamp_from_source",
     "audio_data",
     "section_id"
    ],
    "properties": {
     "id": {
      "type": "integer"
     },
     "timestamp_ms": {
      "type": "integer"
     },
     "is_timestamp_from_source": {
      "type": "integer",
      "enum": [
       0,
       1
      ]
     },
     "audio_data": {
      "type": "string",
      "format": "byte"
     },
     "section_id": {
      "type": "integer"
     },
     "duration_samples": {
      "type": "integer"
     }
    }
   },
   "Title": {
    "type": "object",
    "required": [
     "id",
     "section_id",
     "timestamp_ms",
     "title"
    ],
    "properties": {
     "id": {
      "type": "integer"
     },
     "section_id": {
      "type": "integer"
     },
     "timestamp_ms": {
      "type": "integer"
     },
     "title": {
      "type": "string"
     }
    }
   },
   "Session": {
    "type": "object",
    "properties": {
     "section_id": {
      "type": "integer"
     },
     "start_ms": {
      "type": "integer"
     },
     "end_ms": {
      "type": "integer"
     },
     "duration_ms": {
      "type": "integer"
     },
     "segments": {
      "type": "integer"
     },
     "first_segment_id": {
      "type": "integer"
     },
     "last_segment_id": {
      "type": "integer"
     },
     "is_open": {
      "type": "boolean"
     },
     "titles": {
      "type": "integer"
     }
    }
   },
   "SyncStatus": {
    "type": "object",
    "required": [
     "in_progress"
    ],
    "properties": {
     "in_progress": {
      "type": "boolean"
     },
     "passes": {
      "type": "integer"
     },
     "trigger": {
      "type": "string",
      "enum": [
       "schedule",
       "manual",
       ""
      ]
     },
     "last_started_ms": {
      "type": "integer",
      "nullable": true
     },
     "last_finished_ms": {
      "type": "integer",
      "nullable": true
     },
     "last_result": {
      "type": "string",
      "enum": [
       "ok",
       "failed"
      ],
      "nullable": true
     },
     "last_exit_status": {
      "type": "integer",
      "nullable": true
     },
     "last_error": {
      "type": "string",
      "nullable": true
     },
     "sync_interval_seconds": {
      "type": "integer"
     },
     "remote_url": {
      "type": "string"
     },
     "shows": {
      "type": "array",
      "items": {
       "type": "object",
       "description": "the pass's show_synced (or error) record per show"
      }
     }
    }
   }
  },
  "responses": {
   "BadRequest": {
    "description": "bad parameter",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Unauthorized": {
    "description": "missing or wrong bearer token",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Forbidden": {
    "description": "recipient database",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "NotFound": {
    "description": "unknown show",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   }
  }
 },
 "security": [
  {
   "bearer": []
  }
 ],
 "paths": {
  "/api/health": {
   "get": {
    "summary": "Health: 503 naming each show that should be recording and is not",
    "security": [],
    "responses": {
     "200": {
      "description": "ok",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "status": {
           "type": "string"
          }
         }
        }
       }
      }
     },
     "503": {
      "description": "a show is not recording",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "status": {
           "type": "string"
          },
          "error": {
           "type": "string"
          },
          "shows": {
           "type": "array",
           "items": {
            "type": "object",
            "properties": {
             "show": {
              "type": "string"
             },
             "problem": {
              "type": "string"
             }
            }
           }
          }
         }
        }
       }
      }
     }
    },
    "description": "With a record config: 503 when a show is inside its daily window (for at least two split intervals, counted from the window's start or sa-serve's start, whichever is later) and its newest segment ended two split intervals ago or more. Otherwise, and in the other modes, 200. Never needs the bearer token."
   }
  },
  "/metrics": {
   "get": {
    "summary": "Prometheus metrics",
    "description": "The Prometheus text exposition format (0.0.4). With a record config or --db: per show sa_show_recording, sa_show_in_window, sa_show_healthy, sa_show_last_segment_end_timestamp_seconds, sa_show_last_segment_age_seconds, sa_show_reconnects, sa_show_segments, sa_show_bytes, sa_show_sections, sa_show_open_sections, sa_show_database_readable. With a receiver config: per show, from its database, sa_receiver_show_lag_seconds, sa_receiver_show_newest_audio_age_seconds, sa_receiver_show_last_good_pass_age_seconds, sa_receiver_database_up; for sa-serve's own passes sa_receiver_passes_total, sa_receiver_pass_failures_total, sa_receiver_pass_in_progress, sa_receiver_last_good_pass_timestamp_seconds, sa_receiver_last_good_pass_age_seconds, sa_receiver_show_errors_total. Needs the bearer token when one is configured.",
    "responses": {
     "200": {
      "description": "metrics",
      "content": {
       "text/plain": {
        "schema": {
         "type": "string"
        }
       }
      }
     }
    }
   }
  },
  "/api/mode": {
   "get": {
    "summary": "Server mode",
    "responses": {
     "200": {
      "description": "record or inspect",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "mode": {
           "type": "string",
           "enum": [
            "record",
            "inspect",
            "receiver"
           ]
          }
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/api/openapi.json": {
   "get": {
    "summary": "This document",
    "responses": {
     "200": {
      "description": "OpenAPI 3 document",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/api/sync/shows": {
   "get": {
    "summary": "Show databases that have segments and are not recipients",
    "responses": {
     "200": {
      "description": "shows",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "shows"
         ],
         "properties": {
          "shows": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/ShowSummary"
           }
          }
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/api/sync/shows/{name}/metadata": {
   "get": {
    "summary": "Show metadata and segment id range (null ids for an empty database)",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     }
    ],
    "responses": {
     "200": {
      "description": "metadata",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Metadata"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NotFound"
     }
    }
   }
  },
  "/api/sync/shows/{name}/sections": {
   "get": {
    "summary": "Sections ordered by id, with their segment ranges",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     }
    ],
    "responses": {
     "200": {
      "description": "sections",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Section"
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NotFound"
     }
    }
   }
  },
  "/api/sync/shows/{name}/titles": {
   "get": {
    "summary": "ICY titles with id greater than after_id",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     },
     {
      "name": "after_id",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 0,
       "default": 0
      }
     }
    ],
    "responses": {
     "200": {
      "description": "titles",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Title"
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NotFound"
     }
    }
   }
  },
  "/api/sync/shows/{name}/segments": {
   "get": {
    "summary": "Segments with start_id <= id <= end_id in id order, at most limit (capped at 1000)",
    "description": "JSON with base64 audio_data by default. With Accept: application/x-segment-stream the body is binary: \"SASEGS1\\n\", a u32 count, then per record i64 id, i64 timestamp_ms, u8 is_timestamp_from_source, i64 section_id, i64 duration_samples, u32 length and the audio bytes, then a CRC-32 (IEEE) of everything before it; integers little-endian.",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     },
     {
      "name": "start_id",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 0,
       "default": 0
      }
     },
     {
      "name": "end_id",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 0
      }
     },
     {
      "name": "limit",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000,
       "default": 100
      }
     }
    ],
    "responses": {
     "200": {
      "description": "segments",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Segment"
         }
        }
       },
       "application/x-segment-stream": {
        "schema": {
         "type": "string",
         "format": "binary"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "$ref": "#/components/responses/NotFound"
     }
    }
   }
  },
  "/api/sync/shows/{name}/sections/{section_id}/export": {
   "get": {
    "summary": "Export a section to a file in the server's tmp/ (Opus -> .ogg, AAC -> .aac), without re-encoding",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     },
     {
      "name": "section_id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer"
      }
     },
     {
      "name": "include_open",
      "in": "query",
      "schema": {
       "type": "boolean",
       "default": false
      },
      "description": "also export a section still being recorded"
     }
    ],
    "responses": {
     "200": {
      "description": "the file",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "file_path",
          "section_id",
          "format",
          "duration_seconds"
         ],
         "properties": {
          "file_path": {
           "type": "string"
          },
          "section_id": {
           "type": "integer"
          },
          "format": {
           "type": "string",
           "enum": [
            "opus",
            "aac"
           ]
          },
          "duration_seconds": {
           "type": "number"
          },
          "bytes": {
           "type": "integer"
          },
          "sha256": {
           "type": "string"
          },
          "status": {
           "type": "string",
           "enum": [
            "written",
            "exists"
           ]
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     },
     "403": {
      "$ref": "#/components/responses/Forbidden"
     },
     "404": {
      "description": "unknown show or section",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "409": {
      "description": "an export of this section is running, or the section is still being recorded",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/api/sync/status": {
   "get": {
    "summary": "Receiver: background sync status (polled by the UI every 3 s)",
    "responses": {
     "200": {
      "description": "status",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/SyncStatus"
        }
       }
      }
     }
    }
   }
  },
  "/api/sync": {
   "post": {
    "summary": "Receiver: start a sync pass now",
    "responses": {
     "202": {
      "description": "started",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "409": {
      "description": "a pass is running",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/api/shows": {
   "get": {
    "summary": "Playback: shows held locally (works with the recorder down)",
    "responses": {
     "200": {
      "description": "shows",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "shows": {
           "type": "array",
           "items": {
            "type": "object",
            "properties": {
             "name": {
              "type": "string"
             },
             "audio_format": {
              "type": "string"
             },
             "bitrate": {
              "type": "string"
             },
             "sample_rate": {
              "type": "string"
             },
             "sessions": {
              "type": "integer"
             },
             "first_start_ms": {
              "type": "integer"
             },
             "last_end_ms": {
              "type": "integer"
             }
            }
           }
          }
         }
        }
       }
      }
     }
    }
   }
  },
  "/api/show/{name}/metadata": {
   "get": {
    "summary": "Playback: a show's metadata (all keys, as strings)",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     }
    ],
    "responses": {
     "200": {
      "description": "metadata",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "additionalProperties": {
          "type": "string"
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "404": {
      "description": "unknown show, session or segment",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/api/show/{name}/sessions": {
   "get": {
    "summary": "Playback: sessions overlapping [from_ms, to_ms]",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     },
     {
      "name": "from_ms",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 0
      }
     },
     {
      "name": "to_ms",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 0
      }
     }
    ],
    "responses": {
     "200": {
      "description": "sessions",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "show": {
           "type": "string"
          },
          "audio_format": {
           "type": "string"
          },
          "sessions": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/Session"
           }
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "404": {
      "description": "unknown show, session or segment",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/api/show/{name}/session/{id}/titles": {
   "get": {
    "summary": "Playback: ICY titles along a session",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     },
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer"
      },
      "description": "section (session) id"
     }
    ],
    "responses": {
     "200": {
      "description": "titles",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "type": "object",
          "properties": {
           "timestamp_ms": {
            "type": "integer"
           },
           "offset_seconds": {
            "type": "number"
           },
           "title": {
            "type": "string"
           }
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "404": {
      "description": "unknown show, session or segment",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/api/show/{name}/session/{id}/estimate_segment": {
   "get": {
    "summary": "Playback: the segment that holds a wall-clock time",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     },
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer"
      },
      "description": "section (session) id"
     },
     {
      "name": "timestamp_ms",
      "in": "query",
      "required": true,
      "schema": {
       "type": "integer"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "segment",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "section_id": {
           "type": "integer"
          },
          "estimated_segment_id": {
           "type": "integer"
          },
          "timestamp_ms": {
           "type": "integer"
          }
         }
        }
       }
      }
     },
     "400": {
      "description": "missing or out-of-session timestamp",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "404": {
      "description": "unknown show, session or segment",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/show/{name}/session/{id}/audio.ogg": {
   "get": {
    "summary": "Playback: the whole session as ogg (Opus shows), seekable with Range requests",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     },
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer"
      },
      "description": "section (session) id"
     },
     {
      "name": "Range",
      "in": "header",
      "schema": {
       "type": "string"
      },
      "description": "bytes=a-b, bytes=a- or bytes=-n"
     }
    ],
    "responses": {
     "200": {
      "description": "the file",
      "content": {
       "audio/ogg": {
        "schema": {
         "type": "string",
         "format": "binary"
        }
       }
      }
     },
     "206": {
      "description": "the requested range",
      "content": {
       "audio/ogg": {
        "schema": {
         "type": "string",
         "format": "binary"
        }
       }
      }
     },
     "404": {
      "description": "unknown show, session or segment",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "416": {
      "description": "range not satisfiable (Content-Range: bytes */size)",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/show/{name}/session/{id}/audio.aac": {
   "get": {
    "summary": "Playback: the whole session as aac (AAC shows), seekable with Range requests",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     },
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer"
      },
      "description": "section (session) id"
     },
     {
      "name": "Range",
      "in": "header",
      "schema": {
       "type": "string"
      },
      "description": "bytes=a-b, bytes=a- or bytes=-n"
     }
    ],
    "responses": {
     "200": {
      "description": "the file",
      "content": {
       "audio/aac": {
        "schema": {
         "type": "string",
         "format": "binary"
        }
       }
      }
     },
     "206": {
      "description": "the requested range",
      "content": {
       "audio/aac": {
        "schema": {
         "type": "string",
         "format": "binary"
        }
       }
      }
     },
     "404": {
      "description": "unknown show, session or segment",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "416": {
      "description": "range not satisfiable (Content-Range: bytes */size)",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/show/{name}/session/{id}/playlist.m3u8": {
   "get": {
    "summary": "Playback: HLS playlist of a session (fMP4 segments for Opus, ADTS for AAC); relative URLs",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     },
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer"
      },
      "description": "section (session) id"
     }
    ],
    "responses": {
     "200": {
      "description": "playlist",
      "content": {
       "application/vnd.apple.mpegurl": {
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "404": {
      "description": "unknown show, session or segment",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/show/{name}/session/{id}/init.mp4": {
   "get": {
    "summary": "Playback: fMP4 init segment of an Opus session ('Opus' sample entry with dOps)",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     },
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer"
      },
      "description": "section (session) id"
     }
    ],
    "responses": {
     "200": {
      "description": "init segment",
      "content": {
       "audio/mp4": {
        "schema": {
         "type": "string",
         "format": "binary"
        }
       }
      }
     },
     "404": {
      "description": "unknown show, session or segment",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/show/{name}/session/{id}/segment/{file}": {
   "get": {
    "summary": "Playback: one HLS segment, <segment id>.m4s (Opus) or <segment id>.aac (AAC); decode times from the stored durations",
    "parameters": [
     {
      "$ref": "#/components/parameters/name"
     },
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer"
      },
      "description": "section (session) id"
     },
     {
      "name": "file",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string",
       "pattern": "^[0-9]+\\.(m4s|aac)$"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "segment",
      "content": {
       "audio/mp4": {
        "schema": {
         "type": "string",
         "format": "binary"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "404": {
      "description": "unknown show, session or segment",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/": {
   "get": {
    "summary": "The web UI (receiver and inspect modes)",
    "security": [],
    "responses": {
     "200": {
      "description": "HTML",
      "content": {
       "text/html": {
        "schema": {
         "type": "string"
        }
       }
      }
     }
    }
   }
  }
 }
}
"""#
}
