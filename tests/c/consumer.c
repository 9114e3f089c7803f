/*
 * A C program using the library through include/dlclassifier.h only: trains
 * one epoch on bundled real data, predicts tiles, a whole image, a region of
 * it and a rectangle into buffers with the model, lists, validates and
 * bundles it, books memory, and checks that bad input gets a status and a
 * message, never a crash or a half-written buffer, and that a failing model
 * run is an engine error.
 * Usage: consumer DATA_DIR WORK_DIR FAILING_ONNX (see run.sh).
 */
#include "dlclassifier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CHECK(cond, what)                                                              \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "c consumer: FAILED at line %d: %s (last error: %s)\n", \
                    __LINE__, what, dlc_last_error());                                 \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* A failed call must say why. */
#define EXPECT_STATUS(call, status)                                   \
    do {                                                              \
        int got_ = (call);                                            \
        if (got_ != (status)) {                                       \
            fprintf(stderr, "c consumer: FAILED at line %d: %s gave %d, expected %d (%s)\n", \
                    __LINE__, #call, got_, (int)(status), dlc_last_error()); \
            exit(1);                                                  \
        }                                                             \
        CHECK((status) == DLC_OK ? dlc_last_error()[0] == '\0'        \
                                 : dlc_last_error()[0] != '\0',       \
              "dlc_last_error() matches the status");                 \
    } while (0)

#define PATH_LEN 4096
#define TILE 64
#define TILES 2

/* The number after "key": in a flat JSON text, or -1. Enough for the fields checked here. */
static double json_number(const char *json, const char *key) {
    char pattern[64];
    const char *at;
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    at = strstr(json, pattern);
    return at ? strtod(at + strlen(pattern), NULL) : -1.0;
}

static void join(char *out, const char *dir, const char *name) {
    int n = snprintf(out, PATH_LEN, "%s/%s", dir, name);
    CHECK(n > 0 && n < PATH_LEN, "the path fits");
}

struct epochs_seen {
    int calls;
    int last_epoch;
};

static void on_epoch(const char *epoch_json, void *user_data) {
    struct epochs_seen *seen = user_data;
    seen->calls++;
    seen->last_epoch = (int)json_number(epoch_json, "epoch");
}

static void check_errors_before_training(const char *data_dir, const char *work) {
    char model[PATH_LEN];
    DlcPredictor *predictor = (DlcPredictor *)&predictor; /* not NULL: a failed call must reset it */
    DlcJob *job = NULL;
    char *result = NULL;
    const char bad_utf8[] = {'\xff', '\xfe', '\0'};
    const DlcConstBuffer no_input = {NULL, 0};
    const DlcBuffer no_output = {NULL, 0};

    CHECK(strlen(dlc_version()) > 0, "dlc_version() is set");

    EXPECT_STATUS(dlc_predictor_open(NULL, NULL, &predictor), DLC_INVALID_ARGUMENT);
    CHECK(strstr(dlc_last_error(), "model_dir") != NULL, "the message names the parameter");
    CHECK(predictor == NULL, "a failed open leaves *out NULL");
    EXPECT_STATUS(dlc_predictor_open(data_dir, NULL, NULL), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_predictor_open(bad_utf8, NULL, &predictor), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_predictor_open("/nonexistent/model", NULL, &predictor), DLC_IO);
    EXPECT_STATUS(dlc_predictor_open(data_dir, "{\"backend\":\"tpu\"}", &predictor), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_predictor_info_json(NULL, &result), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_predictor_predict(NULL, no_input, NULL, no_output, DLC_PROBABILITY_FORMAT_FLOAT32, no_output),
                  DLC_INVALID_ARGUMENT);

    join(model, work, "never");
    EXPECT_STATUS(dlc_train(NULL, model, NULL, NULL, NULL, NULL), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_train(data_dir, model, "{\"epochs\": 1,", NULL, NULL, NULL), DLC_INVALID_ARGUMENT);
    CHECK(strncmp(dlc_last_error(), "config: ", 8) == 0, "the message names the parameter");
    EXPECT_STATUS(dlc_train(data_dir, model, "{\"epoch\": 1}", NULL, NULL, NULL), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_train(data_dir, model, "{\"tile_size\": 50}", NULL, NULL, NULL), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_train("/nonexistent/data", model, NULL, NULL, NULL, NULL), DLC_IO);

    EXPECT_STATUS(dlc_job_cancel(NULL), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_job_new(&job), DLC_OK);
    EXPECT_STATUS(dlc_job_cancel(job), DLC_OK);
    EXPECT_STATUS(dlc_train(data_dir, model,
                            "{\"encoder\":\"mobilenet_v2\",\"tile_size\":64,\"batch_size\":2,\"epochs\":1,\"device\":\"cpu\"}",
                            job, NULL, &result),
                  DLC_CANCELLED);
    CHECK(result == NULL, "a cancelled run returns no result");
    dlc_job_free(job);

    /* Frees ignore NULL and handles already freed; other calls refuse a freed handle. */
    EXPECT_STATUS(dlc_job_free(job), DLC_OK);
    EXPECT_STATUS(dlc_job_cancel(job), DLC_INVALID_STATE);
    CHECK(strstr(dlc_last_error(), "closed") != NULL, "a freed handle is named as closed");
    EXPECT_STATUS(dlc_job_free(NULL), DLC_OK);
    EXPECT_STATUS(dlc_predictor_free(NULL), DLC_OK);
    dlc_string_free(NULL);
}

/* A caller's memory as the engine's input or output. */
static DlcConstBuffer in(const void *data, size_t len) {
    DlcConstBuffer b;
    b.data = data;
    b.len = len;
    return b;
}

static DlcBuffer out(void *data, size_t len) {
    DlcBuffer b;
    b.data = data;
    b.len = len;
    return b;
}

static void check_prediction(const DlcPredictor *predictor, int classes) {
    static uint8_t tiles[TILES * TILE * TILE];
    static float probabilities[TILES * TILE * TILE * 8];
    static uint8_t quantized[TILES * TILE * TILE * 8];
    static uint8_t class_map[TILES * TILE * TILE];
    const DlcBuffer none = {NULL, 0};
    const size_t pixels = (size_t)TILES * TILE * TILE;
    const size_t probability_count = pixels * (size_t)classes;
    DlcTileLayout layout = {TILES, 1, TILE, TILE, DLC_ORDER_HWC, DLC_DTYPE_U8};
    DlcTileLayout bad;
    size_t i;
    int c;

    CHECK(classes >= 2 && classes <= 8, "the model has a plausible number of classes");
    for (i = 0; i < pixels; i++) /* bright disks on a dark ground, like the nuclei of the data */
        tiles[i] = (uint8_t)((((i % TILE) / 16 + (i / TILE) / 16) % 2) ? 200 : 20);

    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tiles, sizeof tiles), &layout,
                                        out(probabilities, probability_count * sizeof(float)),
                                        DLC_PROBABILITY_FORMAT_FLOAT32, out(class_map, sizeof class_map)),
                  DLC_OK);
    for (i = 0; i < pixels; i++) {
        const float *p = probabilities + i * (size_t)classes;
        float sum = 0.0f;
        int best = 0;
        for (c = 0; c < classes; c++) {
            CHECK(p[c] >= 0.0f && p[c] <= 1.0f, "probabilities are in [0, 1]");
            sum += p[c];
            if (p[c] > p[best])
                best = c;
        }
        CHECK(fabsf(sum - 1.0f) < 1e-4f, "probabilities of a pixel sum to 1");
        CHECK(class_map[i] < classes && p[class_map[i]] == p[best], "the class map is the argmax");
    }

    /* Probabilities as bytes: round(255 p). */
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tiles, sizeof tiles), &layout, out(quantized, probability_count),
                                        DLC_PROBABILITY_FORMAT_UINT8, none),
                  DLC_OK);
    for (i = 0; i < probability_count; i++)
        CHECK(fabsf(quantized[i] - 255.0f * probabilities[i]) <= 1.0f, "uint8 probabilities are 255 p");
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tiles, sizeof tiles), &layout, out(quantized, probability_count),
                                        2, none),
                  DLC_INVALID_ARGUMENT);
    CHECK(strstr(dlc_last_error(), "probability_format") != NULL, "the bad format is named");
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tiles, sizeof tiles), &layout, out(tiles, sizeof tiles),
                                        DLC_PROBABILITY_FORMAT_UINT8, none),
                  DLC_INVALID_ARGUMENT);
    CHECK(strstr(dlc_last_error(), "overlap") != NULL, "an output over the input is refused");

    /* Failed calls write nothing. */
    memset(class_map, 0xAB, sizeof class_map);
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tiles, sizeof tiles), &layout,
                                        out(probabilities, (probability_count - 1) * sizeof(float)),
                                        DLC_PROBABILITY_FORMAT_FLOAT32, out(class_map, sizeof class_map)),
                  DLC_INVALID_ARGUMENT);
    CHECK(strstr(dlc_last_error(), "probability output buffer") != NULL, "the undersized buffer is named");
    CHECK(class_map[0] == 0xAB && class_map[pixels - 1] == 0xAB, "nothing is written on failure");
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tiles, sizeof tiles), &layout, none, 0, out(class_map, pixels - 1)),
                  DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tiles, sizeof tiles), &layout, none, 0, none),
                  DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tiles, sizeof tiles - 1), &layout, none, 0, out(class_map, pixels)),
                  DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(NULL, sizeof tiles), &layout, none, 0, out(class_map, pixels)),
                  DLC_INVALID_ARGUMENT);
    bad = layout;
    bad.channels = 3;
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tiles, sizeof tiles), &bad, none, 0, out(class_map, pixels)),
                  DLC_INVALID_ARGUMENT);
    bad = layout;
    bad.order = 7;
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tiles, sizeof tiles), &bad, none, 0, out(class_map, pixels)),
                  DLC_INVALID_ARGUMENT);
    bad = layout;
    bad.count = (size_t)-1 / 4;
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tiles, sizeof tiles), &bad, none, 0, out(class_map, pixels)),
                  DLC_INVALID_ARGUMENT);
    CHECK(class_map[0] == 0xAB, "nothing is written on failure");
}

static int file_exists(const char *dir, const char *name) {
    char path[PATH_LEN];
    FILE *f;
    join(path, dir, name);
    f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

static void check_whole_image(const DlcPredictor *predictor, const char *data_dir, const char *work) {
    char image[PATH_LEN], truth[PATH_LEN], out[PATH_LEN], cancelled[PATH_LEN], options[3 * PATH_LEN];
    char *report = NULL;
    DlcJob *job = NULL;

    join(image, data_dir, "validation/images/patch_0003.tiff");
    join(truth, data_dir, "validation/masks/patch_0003.png");
    join(out, work, "applied");
    join(cancelled, work, "cancelled");
    CHECK(snprintf(options, sizeof options, "{\"tile_size\":64,\"probabilities\":\"uint8\",\"objects\":{\"min_area\":4},\"truth\":\"%s\"}", truth)
              < (int)sizeof options,
          "the options fit");

    EXPECT_STATUS(dlc_predictor_apply(predictor, image, out, options, NULL, &report), DLC_OK);
    CHECK(json_number(report, "tiles") >= 1.0 && json_number(report, "pixel_accuracy") >= 0.0,
          "the report counts tiles and scores the truth");
    CHECK(json_number(report, "count") >= 1.0, "the report counts the objects traced");
    dlc_string_free(report);
    CHECK(file_exists(out, "class_map.png") && file_exists(out, "probabilities.tif") &&
              file_exists(out, "overlay.png") && file_exists(out, "measurements.csv") &&
              file_exists(out, "objects.geojson") && file_exists(out, "objects.csv"),
          "the result files are written");

    EXPECT_STATUS(dlc_predictor_apply(predictor, "/nonexistent.tif", out, NULL, NULL, NULL), DLC_IO);
    EXPECT_STATUS(dlc_predictor_apply(predictor, image, out, "{\"tile_size\":64,\"overlap\":64}", NULL, NULL),
                  DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_predictor_apply(predictor, NULL, out, NULL, NULL, NULL), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_job_new(&job), DLC_OK);
    EXPECT_STATUS(dlc_job_cancel(job), DLC_OK);
    EXPECT_STATUS(dlc_predictor_apply(predictor, image, cancelled, "{\"tile_size\":64}", job, &report), DLC_CANCELLED);
    CHECK(report == NULL && !file_exists(cancelled, "class_map.png"), "a cancelled run writes no result");
    dlc_job_free(job);
}

static int folder_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Applying to a region: an L in the 83 x 75 image, on a grid of 32-pixel
 * tiles over its box, runs only the tiles it touches; an invalid region is
 * refused before anything is written. */
static void check_region(const DlcPredictor *predictor, const char *data_dir, const char *work) {
    char image[PATH_LEN], out[PATH_LEN], refused[PATH_LEN];
    char *report = NULL;
    const char *l_shape =
        "{\"tile_size\":32,\"overlap\":0,\"region\":{\"polygons\":[{\"exterior\":"
        "[[2,2],[80,2],[80,20],[20,20],[20,72],[2,72],[2,2]],\"holes\":[]}]}}";
    const char *bow_tie =
        "{\"tile_size\":32,\"overlap\":0,\"region\":{\"polygons\":[{\"exterior\":"
        "[[10,10],[40,40],[40,10],[10,40],[10,10]],\"holes\":[]}]}}";

    join(image, data_dir, "validation/images/patch_0003.tiff");
    join(out, work, "region");
    EXPECT_STATUS(dlc_predictor_apply(predictor, image, out, l_shape, NULL, &report), DLC_OK);
    CHECK(strstr(report, "\"region\":{") != NULL, "the report describes the region");
    CHECK(json_number(report, "tiles_skipped") > 0.0, "the L leaves tiles out");
    CHECK(json_number(report, "tiles") >= 1.0, "the tiles the L needs are run");
    CHECK(strstr(report, "\"named\":") != NULL, "the measurements carry named values");
    dlc_string_free(report);
    CHECK(file_exists(out, "class_map.png"), "the region's class map is written");

    join(refused, work, "bow-tie");
    report = NULL;
    EXPECT_STATUS(dlc_predictor_apply(predictor, image, refused, bow_tie, NULL, &report), DLC_INVALID_ARGUMENT);
    CHECK(strstr(dlc_last_error(), "not valid") != NULL, "the message says the polygon is not valid");
    CHECK(report == NULL && !folder_exists(refused), "a refused region creates no out folder");
}

/* A rectangle classified into caller buffers: planar probabilities whose
 * argmax is the class map. (This program reads no PNG, so the comparison
 * with a whole-image class_map.png is left to the Rust tests.) */
static void check_classify_region(const DlcPredictor *predictor, const char *data_dir, int classes) {
    enum { X = 10, Y = 20, W = 24, H = 16 };
    static float probabilities[8 * W * H];
    static uint8_t class_map[W * H];
    const DlcBuffer none = {NULL, 0};
    const size_t pixels = (size_t)W * H;
    char image[PATH_LEN];
    size_t i;
    int c;

    CHECK(classes >= 2 && classes <= 8, "the model has a plausible number of classes");
    join(image, data_dir, "validation/images/patch_0003.tiff");
    EXPECT_STATUS(dlc_predictor_classify_region(predictor, image, X, Y, W, H, NULL,
                                                out(probabilities, pixels * (size_t)classes * sizeof(float)),
                                                DLC_PROBABILITY_FORMAT_FLOAT32, out(class_map, pixels), NULL),
                  DLC_OK);
    for (i = 0; i < pixels; i++) {
        float sum = 0.0f;
        int best = 0;
        for (c = 0; c < classes; c++) {
            float p = probabilities[(size_t)c * pixels + i];
            CHECK(p >= 0.0f && p <= 1.0f, "probabilities are in [0, 1]");
            sum += p;
            if (p > probabilities[(size_t)best * pixels + i])
                best = c;
        }
        CHECK(fabsf(sum - 1.0f) < 1e-4f, "probabilities of a pixel sum to 1");
        CHECK(class_map[i] < classes &&
                  probabilities[(size_t)class_map[i] * pixels + i] == probabilities[(size_t)best * pixels + i],
              "the class map is the argmax");
    }

    /* Refused calls write nothing. */
    memset(class_map, 0xAB, sizeof class_map);
    EXPECT_STATUS(dlc_predictor_classify_region(predictor, image, X, Y, W, H, NULL, none, 0, out(class_map, pixels - 1), NULL),
                  DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_predictor_classify_region(predictor, image, X, Y, W, H, "{\"objects\":{}}", none, 0,
                                                out(class_map, pixels), NULL),
                  DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_predictor_classify_region(predictor, image, 80, Y, W, H, NULL, none, 0, out(class_map, pixels), NULL),
                  DLC_INVALID_ARGUMENT);
    CHECK(class_map[0] == 0xAB && class_map[pixels - 1] == 0xAB, "nothing is written on failure");
}

/* Sizes and values no model can take get a clear status and write nothing:
 * tiles too large or off the stride, NaN pixels, settings out of range and a
 * metadata.json that contradicts itself. */
static void check_hostile_inputs(const DlcPredictor *predictor, const char *model, const char *data_dir, const char *work) {
    static float tile[TILE * TILE];
    static uint8_t class_map[TILE * TILE];
    const DlcBuffer none = {NULL, 0};
    DlcTileLayout layout = {1, 1, TILE, TILE, DLC_ORDER_CHW, DLC_DTYPE_F32};
    char image[PATH_LEN], refused[PATH_LEN], bad_model[PATH_LEN], path[PATH_LEN], text[1 << 16];
    char *json = NULL;
    DlcPredictor *opened = NULL;
    FILE *file;
    size_t n;
    char *at;

    join(image, data_dir, "validation/images/patch_0003.tiff");
    join(refused, work, "hostile");
    EXPECT_STATUS(dlc_predictor_apply(predictor, image, refused, "{\"tile_size\":1048576}", NULL, NULL), DLC_INVALID_ARGUMENT);
    CHECK(strstr(dlc_last_error(), "tile_size must be a positive multiple of 32 up to 8192, got 1048576"), "the tile limit is named");
    EXPECT_STATUS(dlc_predictor_apply(predictor, image, refused, "{\"tile_size\":100}", NULL, NULL), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_predictor_apply(predictor, image, refused, "{\"batch_size\":1000000}", NULL, NULL), DLC_INVALID_ARGUMENT);
    CHECK(strstr(dlc_last_error(), "batch_size must be from 1 to 4096"), "the batch limit is named");
    CHECK(!file_exists(refused, "class_map.png"), "a refused run writes nothing");
    EXPECT_STATUS(dlc_estimate_json("{\"tile_size\":100}", 1, 2, 0, &json), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_train(data_dir, refused, "{\"samples_per_epoch\":0}", NULL, NULL, &json), DLC_INVALID_ARGUMENT);
    CHECK(strstr(dlc_last_error(), "samples_per_epoch must be from 1 to 16777216, got 0"), "zero samples are refused");
    EXPECT_STATUS(dlc_train(data_dir, refused, "{\"samples_per_epoch\":2147483647}", NULL, NULL, &json), DLC_INVALID_ARGUMENT);

    tile[TILE + 3] = NAN;
    memset(class_map, 0xAB, sizeof class_map);
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tile, sizeof tile), &layout, none, DLC_PROBABILITY_FORMAT_FLOAT32,
                                        out(class_map, sizeof class_map)),
                  DLC_INVALID_ARGUMENT);
    CHECK(strstr(dlc_last_error(), "1 non-finite value (NaN or infinity), the first at tile 0, channel 0, row 1, column 3"),
          "the NaN is found where it is");
    CHECK(class_map[0] == 0xAB, "nothing is written on failure");

    /* A copy of the model whose metadata.json claims a tile size that overflows an int. */
    join(bad_model, work, "bad-model");
    CHECK(mkdir(bad_model, 0700) == 0, "the copy's folder is made");
    join(path, model, "metadata.json");
    CHECK((file = fopen(path, "rb")) != NULL, "the metadata opens");
    n = fread(text, 1, sizeof text - 16, file);
    fclose(file);
    text[n] = '\0';
    CHECK((at = strstr(text, "\"tile_size\": 64,")) != NULL, "the metadata names its tile size");
    memmove(at + strlen("\"tile_size\": 4294967296,"), at + strlen("\"tile_size\": 64,"), strlen(at + strlen("\"tile_size\": 64,")) + 1);
    memcpy(at, "\"tile_size\": 4294967296,", strlen("\"tile_size\": 4294967296,"));
    join(path, bad_model, "metadata.json");
    CHECK((file = fopen(path, "wb")) != NULL && fputs(text, file) >= 0 && fclose(file) == 0, "the bad metadata is written");
    EXPECT_STATUS(dlc_predictor_open(bad_model, NULL, &opened), DLC_IO);
    CHECK(strstr(dlc_last_error(), "invalid metadata: tile_size must be a positive multiple of 32 up to 8192, got 4294967296"),
          "the inconsistent field is named");
    CHECK(opened == NULL, "no predictor");
}

/* Registry and bundles: the trained model is listed and valid, and the model
 * opened from a bundle of it predicts; a damaged bundle is refused. */
static void check_registry_and_bundle(const char *model, const char *work, int classes) {
    char zip[PATH_LEN], damaged[PATH_LEN], models_json[PATH_LEN + 8];
    char *json = NULL, *unpacked = NULL;
    DlcPredictor *predictor = NULL;
    FILE *in, *out;
    long size, i;
    int c;

    EXPECT_STATUS(dlc_models_list_json(work, &json), DLC_OK);
    CHECK(strstr(json, "\"model\"") != NULL, "the registry lists the trained model");
    dlc_string_free(json);
    EXPECT_STATUS(dlc_model_validate_json(model, &json), DLC_OK);
    CHECK(strstr(json, "\"valid\":true") != NULL, "the trained model is valid");
    dlc_string_free(json);

    join(zip, work, "models.zip");
    CHECK(snprintf(models_json, sizeof models_json, "[\"%s\"]", model) < (int)sizeof models_json, "the list fits");
    EXPECT_STATUS(dlc_bundle_pack(models_json, zip, "{\"name\":\"c-test\",\"version\":\"1\"}", NULL), DLC_OK);
    EXPECT_STATUS(dlc_bundle_verify_json(zip, 0, &json), DLC_OK);
    CHECK(strstr(json, "c-test") != NULL, "the manifest carries the bundle's name");
    dlc_string_free(json);
    EXPECT_STATUS(dlc_bundle_open(zip, NULL, &unpacked), DLC_OK);
    EXPECT_STATUS(dlc_predictor_open(unpacked, NULL, &predictor), DLC_OK);
    check_prediction(predictor, classes);
    dlc_predictor_free(predictor);
    dlc_string_free(unpacked);

    /* The same bundle with one byte of the middle inverted. */
    join(damaged, work, "damaged.zip");
    in = fopen(zip, "rb");
    out = fopen(damaged, "wb");
    CHECK(in && out, "the bundles open");
    fseek(in, 0, SEEK_END);
    size = ftell(in);
    rewind(in);
    for (i = 0; (c = fgetc(in)) != EOF; i++) {
        fputc(i == size / 2 ? c ^ 0xFF : c, out);
    }
    fclose(in);
    fclose(out);
    EXPECT_STATUS(dlc_bundle_verify_json(damaged, 0, &json), DLC_IO);
    CHECK(json == NULL, "a refused bundle gives no manifest");
    EXPECT_STATUS(dlc_bundle_open(zip, "no-such-model", &unpacked), DLC_INVALID_ARGUMENT);
}

/* The catalog lists smp's combinations only, with licence notes. */
static void check_catalog(void) {
    char *json = NULL;
    EXPECT_STATUS(dlc_catalog_json(&json), DLC_OK);
    CHECK(strstr(json, "\"deeplabv3+\"") != NULL && strstr(json, "\"mit_b2\"") != NULL, "architectures and encoders listed");
    CHECK(strstr(json, "\"lunit-swav\"") != NULL && strstr(json, "\"licence\"") != NULL, "weight sets come with licences");
    dlc_string_free(json);
    EXPECT_STATUS(dlc_catalog_json(NULL), DLC_INVALID_ARGUMENT);
}

/* The training plan: what a run would use on the data, and why, without training. */
static void check_plan(const char *data_dir) {
    char *plan = NULL;
    EXPECT_STATUS(dlc_training_plan_json(data_dir, NULL, &plan), DLC_OK);
    CHECK(json_number(plan, "tile_size") == 96.0, "the tile fits the 100-pixel training images");
    CHECK(json_number(plan, "samples_per_epoch") == 16.0 && json_number(plan, "steps_per_epoch") == 4.0,
          "an epoch is at least 4 batches");
    CHECK(strstr(plan, "\"reason\"") != NULL, "each choice says why");
    dlc_string_free(plan);
    EXPECT_STATUS(dlc_training_plan_json(data_dir, "{\"tile_size\": 64}", &plan), DLC_OK);
    CHECK(json_number(plan, "tile_size") == 64.0, "a given tile is kept");
    dlc_string_free(plan);
    EXPECT_STATUS(dlc_training_plan_json(data_dir, "{\"tile_size\": 50}", &plan), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_training_plan_json("/nonexistent/data", NULL, &plan), DLC_IO);
}

/* A model that loads but whose run fails is the engine's failure, not the caller's or a file's. */
static void check_backend_failure(const char *failing_onnx) {
    static uint8_t tiles[TILE * TILE], class_map[TILE * TILE];
    DlcTileLayout layout = {1, 1, TILE, TILE, DLC_ORDER_HWC, DLC_DTYPE_U8};
    DlcPredictor *predictor = NULL;
    const DlcBuffer none = {NULL, 0};
    EXPECT_STATUS(dlc_predictor_open_onnx(failing_onnx, NULL, NULL, &predictor), DLC_OK);
    EXPECT_STATUS(dlc_predictor_predict(predictor, in(tiles, sizeof tiles), &layout, none,
                                        DLC_PROBABILITY_FORMAT_FLOAT32, out(class_map, sizeof class_map)),
                  DLC_ENGINE);
    CHECK(strstr(dlc_last_error(), "ONNX Runtime run failed") != NULL, "the message says the run failed");
    EXPECT_STATUS(dlc_predictor_free(predictor), DLC_OK);
}

/* Memory bookings on a private CPU budget of 100 bytes (run.sh sets the folder). */
static void check_reservations(void) {
    DlcReservation *first = NULL, *second = NULL;
    EXPECT_STATUS(dlc_reserve("cpu", 60, 100, 1000, NULL, &first), DLC_OK);
    EXPECT_STATUS(dlc_reserve("cpu", 50, 100, 200, NULL, &second), DLC_TIMEOUT);
    CHECK(second == NULL && strstr(dlc_last_error(), "timed out") != NULL, "a wait that runs out says so");
    EXPECT_STATUS(dlc_reserve("cpu", 200, 100, 200, NULL, &second), DLC_INVALID_ARGUMENT);
    dlc_reservation_free(first);
    EXPECT_STATUS(dlc_reserve("cpu", 50, 100, 1000, NULL, &second), DLC_OK);
    dlc_reservation_free(second);
}

int main(int argc, char **argv) {
    char model[PATH_LEN], onnx[PATH_LEN], metadata[PATH_LEN];
    const char *config =
        "{\"encoder\":\"mobilenet_v2\",\"tile_size\":64,\"batch_size\":2,\"epochs\":1,"
        "\"samples_per_epoch\":4,\"device\":\"cpu\",\"threads\":2,\"early_stopping\":null}";
    struct epochs_seen seen = {0, 0};
    DlcEpochListener listener;
    DlcJob *job = NULL;
    DlcPredictor *predictor = NULL, *imported = NULL;
    char *result = NULL, *info = NULL;
    int classes;

    if (argc != 4) {
        fprintf(stderr, "usage: %s DATA_DIR WORK_DIR FAILING_ONNX\n", argv[0]);
        return 2;
    }
    listener.on_epoch = on_epoch;
    listener.user_data = &seen;
    check_errors_before_training(argv[1], argv[2]);
    check_catalog();
    check_plan(argv[1]);

    join(model, argv[2], "model");
    EXPECT_STATUS(dlc_job_new(&job), DLC_OK);
    EXPECT_STATUS(dlc_job_pause(job), DLC_OK);
    EXPECT_STATUS(dlc_job_resume(job), DLC_OK);
    EXPECT_STATUS(dlc_train(argv[1], model, config, job, &listener, &result), DLC_OK);
    dlc_job_free(job);
    CHECK(seen.calls == 1 && seen.last_epoch == 1, "the callback saw epoch 1");
    CHECK(strstr(result, "\"model_dir\"") && json_number(result, "epochs_trained") == 1.0,
          "the result names the model and its one epoch");
    dlc_string_free(result);

    EXPECT_STATUS(dlc_predictor_open(model, "{\"device\":\"cpu\",\"threads\":2}", &predictor), DLC_OK);
    EXPECT_STATUS(dlc_predictor_info_json(predictor, &info), DLC_OK);
    CHECK(json_number(info, "in_channels") == 1.0, "info: one input channel");
    classes = (int)json_number(info, "num_classes");
    dlc_string_free(info);
    check_prediction(predictor, classes);
    check_whole_image(predictor, argv[1], argv[2]);
    check_region(predictor, argv[1], argv[2]);
    check_classify_region(predictor, argv[1], classes);
    check_hostile_inputs(predictor, model, argv[1], argv[2]);
    dlc_predictor_free(predictor);

    join(onnx, model, "model.onnx");
    join(metadata, model, "metadata.json");
    EXPECT_STATUS(dlc_predictor_open_onnx(onnx, metadata, "{\"backend\":\"torch\"}", &imported), DLC_INVALID_ARGUMENT);
    EXPECT_STATUS(dlc_predictor_open_onnx(onnx, metadata, NULL, &imported), DLC_OK);
    check_prediction(imported, classes);
    dlc_predictor_free(imported);

    check_registry_and_bundle(model, argv[2], classes);
    check_reservations();
    check_backend_failure(argv[3]);

    printf("c consumer: ok\n");
    return 0;
}
