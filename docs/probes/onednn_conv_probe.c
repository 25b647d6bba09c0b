/* oneDNN convolution probe (issue 22): one 3×3 convolution forward, fp32, batch N, C→O
 * channels, H×H input, stride S, padding 1, timed best of 7 after a warm-up, on oneDNN's C API
 * (Debian libdnnl-dev 2.6). Mode 0: user NCHW/OIHW memory handed to the primitive as is (oneDNN
 * then picks an NCHW implementation); mode 1: the primitive chooses its layout ("any", blocked
 * on this CPU) and the time is also given with the reorders from and to NCHW that a drop-in
 * replacement of the engine's kernels would pay per call.
 *
 *   gcc -O2 docs/probes/onednn_conv_probe.c -o /tmp/onednn_probe -ldnnl
 *   OMP_NUM_THREADS=2 /tmp/onednn_probe 128 16 16 32 1 1     # N C O H S mode
 */
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#define CHECK(f) do { dnnl_status_t s = f; if (s != dnnl_success) { printf("fail %s: %d\n", #f, s); exit(1);} } while(0)
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc, char** argv){
  int N=atoi(argv[1]), C=atoi(argv[2]), O=atoi(argv[3]), H=atoi(argv[4]), S=atoi(argv[5]); int blocked=atoi(argv[6]);
  int OH=(H+2-3)/S+1;
  dnnl_engine_t eng; CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
  dnnl_stream_t st; CHECK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
  dnnl_dims_t sd={N,C,H,H}, wd={O,C,3,3}, dd={N,O,OH,OH}, strides={S,S}, pad={1,1};
  dnnl_memory_desc_t smd, wmd, dmd, any_s, any_w, any_d;
  CHECK(dnnl_memory_desc_init_by_tag(&smd,4,sd,dnnl_f32,dnnl_nchw));
  CHECK(dnnl_memory_desc_init_by_tag(&wmd,4,wd,dnnl_f32,dnnl_oihw));
  CHECK(dnnl_memory_desc_init_by_tag(&dmd,4,dd,dnnl_f32,dnnl_nchw));
  CHECK(dnnl_memory_desc_init_by_tag(&any_s,4,sd,dnnl_f32,dnnl_format_tag_any));
  CHECK(dnnl_memory_desc_init_by_tag(&any_w,4,wd,dnnl_f32,dnnl_format_tag_any));
  CHECK(dnnl_memory_desc_init_by_tag(&any_d,4,dd,dnnl_f32,dnnl_format_tag_any));
  dnnl_convolution_desc_t cd;
  CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
     blocked? &any_s:&smd, blocked? &any_w:&wmd, NULL, blocked? &any_d:&dmd, strides, pad, pad));
  dnnl_primitive_desc_t pd; CHECK(dnnl_primitive_desc_create(&pd,&cd,NULL,eng,NULL));
  const char* impl; dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  const dnnl_memory_desc_t* psrc = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
  const dnnl_memory_desc_t* pw = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  const dnnl_memory_desc_t* pdst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
  dnnl_memory_t ms, mw, md;
  CHECK(dnnl_memory_create(&ms, psrc, eng, DNNL_MEMORY_ALLOCATE));
  CHECK(dnnl_memory_create(&mw, pw, eng, DNNL_MEMORY_ALLOCATE));
  CHECK(dnnl_memory_create(&md, pdst, eng, DNNL_MEMORY_ALLOCATE));
  float* p; dnnl_memory_get_data_handle(ms,(void**)&p); for(size_t i=0;i<dnnl_memory_desc_get_size(psrc)/4;i++)p[i]=(i%17)*0.1f;
  dnnl_memory_get_data_handle(mw,(void**)&p); for(size_t i=0;i<dnnl_memory_desc_get_size(pw)/4;i++)p[i]=(i%13)*0.01f;
  dnnl_primitive_t prim; CHECK(dnnl_primitive_create(&prim,pd));
  dnnl_exec_arg_t args[3]={{DNNL_ARG_SRC,ms},{DNNL_ARG_WEIGHTS,mw},{DNNL_ARG_DST,md}};
  double best=1e9;
  if (blocked) {
    dnnl_memory_t us, ud; CHECK(dnnl_memory_create(&us,&smd,eng,DNNL_MEMORY_ALLOCATE)); CHECK(dnnl_memory_create(&ud,&dmd,eng,DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t r1pd, r2pd; CHECK(dnnl_reorder_primitive_desc_create(&r1pd,&smd,eng,psrc,eng,NULL));
    CHECK(dnnl_reorder_primitive_desc_create(&r2pd,pdst,eng,&dmd,eng,NULL));
    dnnl_primitive_t r1, r2; CHECK(dnnl_primitive_create(&r1,r1pd)); CHECK(dnnl_primitive_create(&r2,r2pd));
    dnnl_exec_arg_t a1[2]={{DNNL_ARG_FROM,us},{DNNL_ARG_TO,ms}}, a2[2]={{DNNL_ARG_FROM,md},{DNNL_ARG_TO,ud}};
    double b2=1e9;
    for(int it=0;it<8;it++){ double t0=now(); CHECK(dnnl_primitive_execute(r1,st,2,a1)); CHECK(dnnl_primitive_execute(prim,st,3,args)); CHECK(dnnl_primitive_execute(r2,st,2,a2)); dnnl_stream_wait(st); double t=now()-t0; if(it>0&&t<b2)b2=t;}
    printf("  with nchw reorders in+out: %.2f ms %.1f GFLOP/s\n", b2*1e3, 2.0*N*O*OH*OH*C*9/b2/1e9);
  }
  for(int it=0;it<8;it++){ double t0=now(); CHECK(dnnl_primitive_execute(prim,st,3,args)); dnnl_stream_wait(st); double t=now()-t0; if(it>0&&t<best)best=t;}
  double flops=2.0*N*O*OH*OH*C*9;
  printf("%s N%d %d->%d %dx%d s%d: %.2f ms %.1f GFLOP/s (%s)\n", blocked?"any  ":"nchw ", N,C,O,H,H,S,best*1e3,flops/best/1e9, impl);
  return 0;
}
