// Greedy decoding with llama.cpp's library (default context: f16 cache, flash attention as llama.cpp picks it), printing
// after each step the four largest logits, `TOP id:logit id:logit …`, one line per step; the prompt's ids go to stderr.
// scripts/check-llama-cpp.sh builds it beside llama-simple and reads it where fura's greedy text parts from llama.cpp's.
//   greedy_top MODEL.gguf N_NEW "prompt"
#include "ggml.h"
#include "llama.h"
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

// With DUMP_DIR set, every contiguous f32 tensor the graph computes is written to DUMP_DIR/<step>_<name>_<op>.bin
// (raw little-endian floats), for finding where two implementations part.
static int dump_step = 0;
static bool dump_tensor(struct ggml_tensor * t, bool ask, void * user_data) {
    if (ask) return true;
    if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t)) return true;
    std::string name = std::to_string(dump_step) + "_" + t->name + "_" + ggml_op_desc(t);
    for (char & c : name) if (c == ' ' || c == '(' || c == ')' || c == '/') c = '-';
    FILE * f = fopen((std::string((const char *) user_data) + "/" + name + ".bin").c_str(), "wb");
    if (f) { fwrite(t->data, 1, ggml_nbytes(t), f); fclose(f); }
    return true;
}

int main(int argc, char ** argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s MODEL.gguf N_NEW PROMPT\n", argv[0]); return 2; }
    const std::string prompt = argv[3];
    const int steps = atoi(argv[2]);
    llama_backend_init();
    llama_model * model = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    std::vector<llama_token> tokens(prompt.size() + 8);
    const int n = llama_tokenize(vocab, prompt.c_str(), prompt.size(), tokens.data(), tokens.size(), true, true);
    if (n < 0) { fprintf(stderr, "cannot tokenize\n"); return 1; }
    tokens.resize(n);
    fprintf(stderr, "PROMPT");
    for (int t : tokens) fprintf(stderr, " %d", t);
    fprintf(stderr, "\n");
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n + steps; cp.n_batch = n;
    if (const char * dir = getenv("DUMP_DIR")) { cp.cb_eval = dump_tensor; cp.cb_eval_user_data = (void *) dir; }
    llama_context * ctx = llama_init_from_model(model, cp);
    llama_batch_ext * batch = llama_batch_ext_init(ctx);
    const int vocab_size = llama_vocab_n_tokens(vocab);
    std::vector<llama_token> input = tokens;
    int position = 0;
    for (int step = 0; step < steps; ++step) {
        llama_batch_ext_clear(batch);
        for (size_t i = 0; i < input.size(); ++i) {
            const int idx = llama_batch_ext_add_token(batch, 0, input[i]);
            const llama_pos pos = position + (int) i;
            llama_batch_ext_set_pos(batch, idx, &pos);
        }
        llama_batch_ext_set_output_logits(batch, input.size() - 1, true);
        if (llama_process(ctx, LLAMA_PROCESS_TYPE_DECODE, batch)) { fprintf(stderr, "decode failed\n"); return 1; }
        position += input.size();
        dump_step += 1;
        const float * logits = llama_get_logits_ith(ctx, -1);
        std::vector<int> order(vocab_size);
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + 4, order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
        printf("TOP");
        for (int k = 0; k < 4; ++k) printf(" %d:%.9g", order[k], logits[order[k]]);
        printf("\n");
        if (llama_vocab_is_eog(vocab, order[0])) break;
        input = {order[0]};
    }
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
